//! A set of thread indices (clients `0..concurrency`, then the nemesis), as Jepsen's
//! context keeps them in `BitSet`s. Up to 128 threads the set lives inline, so restricting
//! a context (which every `clients`, `nemesis` and `each-thread` step does) allocates
//! nothing; larger sets share their words behind an `Rc` and copy on write.

use std::rc::Rc;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Repr {
    Small(u128),
    Large(Rc<Vec<u64>>),
}

/// A set of thread indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadSet(Repr);

impl ThreadSet {
    /// The empty set, sized for `n` threads.
    pub fn empty(n: usize) -> ThreadSet {
        if n <= 128 {
            ThreadSet(Repr::Small(0))
        } else {
            ThreadSet(Repr::Large(Rc::new(vec![0; n.div_ceil(64)])))
        }
    }

    /// All of `0..n`.
    pub fn full(n: usize) -> ThreadSet {
        let mut s = ThreadSet::empty(n);
        for i in 0..n {
            s.insert(i);
        }
        s
    }

    /// The indices in `0..n` for which `keep` holds.
    pub fn from_fn(n: usize, keep: impl Fn(usize) -> bool) -> ThreadSet {
        let mut s = ThreadSet::empty(n);
        for i in (0..n).filter(|i| keep(*i)) {
            s.insert(i);
        }
        s
    }

    fn word_count(&self) -> usize {
        match &self.0 {
            Repr::Small(_) => 2,
            Repr::Large(w) => w.len(),
        }
    }

    fn word(&self, w: usize) -> u64 {
        match &self.0 {
            Repr::Small(b) => match w {
                0 => *b as u64,
                1 => (*b >> 64) as u64,
                _ => 0,
            },
            Repr::Large(words) => words.get(w).copied().unwrap_or(0),
        }
    }

    pub fn contains(&self, i: usize) -> bool {
        match &self.0 {
            Repr::Small(b) => i < 128 && (b >> i) & 1 == 1,
            Repr::Large(w) => w.get(i / 64).is_some_and(|x| (x >> (i % 64)) & 1 == 1),
        }
    }

    pub fn insert(&mut self, i: usize) {
        match &mut self.0 {
            Repr::Small(b) => *b |= 1u128 << i,
            Repr::Large(w) => Rc::make_mut(w)[i / 64] |= 1u64 << (i % 64),
        }
    }

    pub fn remove(&mut self, i: usize) {
        match &mut self.0 {
            Repr::Small(b) => *b &= !(1u128 << i),
            Repr::Large(w) => Rc::make_mut(w)[i / 64] &= !(1u64 << (i % 64)),
        }
    }

    /// The set of indices in both.
    pub fn intersect(&self, other: &ThreadSet) -> ThreadSet {
        match (&self.0, &other.0) {
            (Repr::Small(a), Repr::Small(b)) => ThreadSet(Repr::Small(a & b)),
            _ => {
                let n = self.word_count().max(other.word_count());
                ThreadSet(Repr::Large(Rc::new(
                    (0..n).map(|w| self.word(w) & other.word(w)).collect(),
                )))
            }
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(b) => b.count_ones() as usize,
            Repr::Large(w) => w.iter().map(|x| x.count_ones() as usize).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many indices are in both sets, without building the intersection.
    pub fn count_both(&self, other: &ThreadSet) -> usize {
        match (&self.0, &other.0) {
            (Repr::Small(a), Repr::Small(b)) => (a & b).count_ones() as usize,
            _ => {
                let n = self.word_count().max(other.word_count());
                (0..n)
                    .map(|w| (self.word(w) & other.word(w)).count_ones() as usize)
                    .sum()
            }
        }
    }

    /// The lowest index `>= from` in both sets (Java's `BitSet.nextSetBit` on the
    /// intersection).
    pub fn next_in_both(&self, other: &ThreadSet, from: usize) -> Option<usize> {
        if let (Repr::Small(a), Repr::Small(b)) = (&self.0, &other.0) {
            if from >= 128 {
                return None;
            }
            let bits = a & b & (!0u128 << from);
            return (bits != 0).then(|| bits.trailing_zeros() as usize);
        }
        let n = self.word_count().max(other.word_count());
        let mut w = from / 64;
        let mut mask = !0u64 << (from % 64);
        while w < n {
            let bits = self.word(w) & other.word(w) & mask;
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
            w += 1;
            mask = !0;
        }
        None
    }

    /// The indices in both sets, ascending.
    pub fn iter_both<'a>(&'a self, other: &'a ThreadSet) -> impl Iterator<Item = usize> + 'a {
        let mut next = 0;
        std::iter::from_fn(move || {
            let i = self.next_in_both(other, next)?;
            next = i + 1;
            Some(i)
        })
    }

    /// The indices, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.iter_both(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_sets_agree() {
        for n in [3, 128, 129, 300] {
            let evens = ThreadSet::from_fn(n, |i| i % 2 == 0);
            let threes = ThreadSet::from_fn(n, |i| i % 3 == 0);
            let both: Vec<usize> = evens.iter_both(&threes).collect();
            let expected: Vec<usize> = (0..n).filter(|i| i % 6 == 0).collect();
            assert_eq!(both, expected, "n = {n}");
            assert_eq!(evens.count_both(&threes), expected.len());
            assert_eq!(
                evens.intersect(&threes).iter().collect::<Vec<_>>(),
                expected
            );
            assert_eq!(ThreadSet::full(n).len(), n);
            assert_eq!(evens.next_in_both(&threes, 1), expected.get(1).copied());
            let mut s = ThreadSet::empty(n);
            s.insert(n - 1);
            assert!(s.contains(n - 1) && !s.contains(0));
            s.remove(n - 1);
            assert!(s.is_empty());
        }
    }
}
