//! Quoting for POSIX shells: an SSH exec request carries one command line, which the
//! node's shell splits, so every argument built from data must be quoted.

/// `arg` as one POSIX shell word that the shell reads back as exactly `arg`: single-quoted,
/// each `'` written as `'\''`. Words of only safe characters are left bare, for readable
/// logs. (The `shell-escape` crate does the same; this is five lines and has no NUL
/// surprises: a NUL cannot be passed in an argument at all, so it is rejected.)
///
/// # Panics
/// If `arg` contains a NUL byte, which no shell argument can hold.
pub fn shell_quote(arg: &str) -> String {
    assert!(!arg.contains('\0'), "a shell argument cannot contain NUL");
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// What `sh` passes to `printf '%s\0'` for the quoted words: the arguments it saw.
    fn through_sh(args: &[&str]) -> Vec<String> {
        let words: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        let script = format!("printf '%s\\0' {}", words.join(" "));
        let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert!(out.status.success(), "{script}");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut seen: Vec<String> = text.split('\0').map(String::from).collect();
        seen.pop(); // after the last NUL
        seen
    }

    #[test]
    fn hostile_arguments_reach_the_command_unchanged() {
        let hostile = [
            "plain",
            "",
            " ",
            "two words",
            "it's",
            "'",
            "''",
            "\"double\"",
            "$(touch /tmp/pwned-by-quote)",
            "`id`",
            "$HOME ${PATH}",
            "a;b && c || d | e & f",
            "*",
            "?[a-z]",
            "~root",
            "back\\slash\\",
            "new\nline",
            "tab\there",
            "-n",
            "--help",
            "#comment",
            "!bang",
            "<in >out 2>&1",
            "ünïcødé ✓",
            "'\"'\"'",
        ];
        assert_eq!(through_sh(&hostile), hostile);
        assert!(!std::path::Path::new("/tmp/pwned-by-quote").exists());
    }

    #[test]
    fn safe_words_stay_bare_and_others_are_single_quoted() {
        assert_eq!(shell_quote("/opt/restate-data/n1"), "/opt/restate-data/n1");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    #[should_panic(expected = "NUL")]
    fn nul_is_refused() {
        shell_quote("a\0b");
    }
}
