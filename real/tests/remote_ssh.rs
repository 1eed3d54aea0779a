//! The SSH remote against real sshd nodes (`cluster up --nodes 3`): commands with their
//! exit status and output, hostile arguments through the shell, files both ways, one session
//! per node reused, host key checking, refused logins and unreachable nodes reported with
//! the node and the reason. Also times russh against the system `ssh` client.

mod common;

use common::{block_on, TestCluster};
use jepsen_real::remote::{shell_quote, HostKeyCheck, Remote, RemoteError, SshAuth, SshRemote};
use std::time::{Duration, Instant};

#[test]
fn ssh_remote_runs_commands_moves_files_reuses_sessions_and_reports_failures() {
    let tc = TestCluster::up(3, 78);
    let nodes = tc.nodes();
    let ssh = tc.ssh();
    block_on(async {
        // Each node answers with its own hostname.
        for (i, node) in nodes.iter().enumerate() {
            let out = ssh
                .exec(node, "hostname; echo to-stderr >&2")
                .await
                .unwrap();
            assert_eq!(out.stdout, format!("n{}\n", i + 1));
            assert_eq!(out.stderr, "to-stderr\n");
            assert_eq!(out.status, Some(0));
        }

        // Hostile arguments arrive unchanged.
        let hostile = [
            "it's",
            "$(hostname)",
            "`id`",
            "a; rm -rf /nonexistent",
            "new\nline",
            "\"'\\",
            "*",
            "",
            "ünïcødé",
        ];
        let words: Vec<String> = hostile.iter().map(|a| shell_quote(a)).collect();
        let out = ssh
            .exec(&nodes[0], &format!("printf '%s\\0' {}", words.join(" ")))
            .await
            .unwrap();
        let seen: Vec<&str> = out.stdout.split('\0').collect();
        assert_eq!(&seen[..seen.len() - 1], &hostile);

        // A failed command says where, what, how and why.
        let err = ssh
            .exec(&nodes[1], "echo doomed >&2; exit 7")
            .await
            .unwrap_err();
        match &err {
            RemoteError::Command {
                node,
                command,
                status,
                stderr,
                ..
            } => {
                assert_eq!(node, &nodes[1]);
                assert_eq!(command, "echo doomed >&2; exit 7");
                assert_eq!(*status, Some(7));
                assert_eq!(stderr, "doomed\n");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "on node {}, `echo doomed >&2; exit 7` failed with exit status 7: doomed",
                nodes[1]
            )
        );
        let killed = ssh.run(&nodes[1], "kill -9 $$").await.unwrap();
        assert_eq!(killed.status, None, "{killed:?}");
        assert!(ssh
            .exec(&nodes[1], "kill -9 $$")
            .await
            .unwrap_err()
            .to_string()
            .contains("no exit status"));
        // run (unlike exec) hands back a failure's output.
        let failed = ssh.run(&nodes[1], "echo out; false").await.unwrap();
        assert_eq!((failed.status, failed.stdout.as_str()), (Some(1), "out\n"));

        // Files both ways, binary and 3 MB, to a path that needs quoting.
        let scratch = tempfile::tempdir().unwrap();
        let local = scratch.path().join("payload");
        let payload: Vec<u8> = (0..3_000_000u32)
            .map(|i| ((i as u64) * 7919 % 251) as u8)
            .collect();
        std::fs::write(&local, &payload).unwrap();
        let remote_path = tc.node_dir(2).join("a file 'quoted'");
        let remote_path = remote_path.to_str().unwrap();
        ssh.upload(&nodes[2], &local, remote_path).await.unwrap();
        let size = ssh
            .exec(
                &nodes[2],
                &format!("stat -c %s {}", shell_quote(remote_path)),
            )
            .await
            .unwrap();
        assert_eq!(size.stdout.trim(), "3000000");
        let back = scratch.path().join("back");
        ssh.download(&nodes[2], remote_path, &back).await.unwrap();
        assert_eq!(std::fs::read(&back).unwrap(), payload);
        let missing = ssh
            .download(&nodes[2], "/nonexistent/file", &back)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("/nonexistent/file") && missing.contains("No such file"),
            "{missing}"
        );
        let unwritable = ssh
            .upload(&nodes[2], &local, "/nonexistent/dir/file")
            .await
            .unwrap_err()
            .to_string();
        assert!(unwritable.contains("exit status 1"), "{unwritable}");

        // One session per node, however many commands ran: each node sees one connection.
        for _ in 0..20 {
            ssh.exec(&nodes[0], "true").await.unwrap();
        }
        assert_eq!(ssh.open_sessions(), 3);
        for i in 0..3 {
            let established = tc.in_netns(i, "ss -Htn state established '( sport = :22 )'");
            assert_eq!(established.lines().count(), 1, "n{}: {established}", i + 1);
        }

        // Root needs no sudo; `sudo` runs as root.
        let whoami = ssh.sudo(&nodes[0], "id -u").await.unwrap();
        assert_eq!(whoami.stdout.trim(), "0");
    });

    // A session that died (its sshd child killed) is replaced on the next command.
    block_on(async {
        let before = ssh.exec(&nodes[0], "echo alive").await.unwrap();
        assert_eq!(before.stdout, "alive\n");
    });
    let sessions_pids = tc.in_netns(0, "ss -Htnp state established '( sport = :22 )'");
    let pid = sessions_pids
        .split("pid=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .expect("sshd's session process")
        .to_string();
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    block_on(async {
        let after = ssh.exec(&nodes[0], "echo again").await.unwrap();
        assert_eq!(after.stdout, "again\n");
    });
}

#[test]
fn host_keys_logins_and_unreachable_nodes_fail_clearly() {
    let tc = TestCluster::up(2, 79);
    let nodes = tc.nodes();
    let scratch = tempfile::tempdir().unwrap();
    let known = |node: usize, line_host: &str| {
        let key =
            std::fs::read_to_string(tc.node_dir(node).join("ssh_host_ed25519_key.pub")).unwrap();
        let path = scratch.path().join(format!("known-{node}-{line_host}"));
        std::fs::write(&path, format!("{line_host} {key}")).unwrap();
        path
    };
    block_on(async {
        // Strict checking: the node's own key is accepted...
        let mut config = tc.ssh_config();
        config.host_key_check = HostKeyCheck::KnownHosts(known(0, &nodes[0]));
        let strict = SshRemote::new(config).unwrap();
        assert_eq!(
            strict.exec(&nodes[0], "hostname").await.unwrap().stdout,
            "n1\n"
        );
        // ...another node's key is not, nor a file that does not list the node.
        let mut config = tc.ssh_config();
        config.host_key_check = HostKeyCheck::KnownHosts(known(1, &nodes[0]));
        let started = Instant::now();
        let err = SshRemote::new(config)
            .unwrap()
            .exec(&nodes[0], "true")
            .await
            .unwrap_err();
        assert!(matches!(err, RemoteError::Connect { .. }), "{err:?}");
        assert!(err.to_string().contains("known_hosts"), "{err}");
        assert!(!err.to_string().contains("attempts"), "not retried: {err}");
        assert!(started.elapsed() < Duration::from_secs(3));

        // Strict checking off accepts any key (the default).
        assert_eq!(
            tc.ssh().exec(&nodes[1], "hostname").await.unwrap().stdout,
            "n2\n"
        );

        // A key the nodes do not know: refused at once, not retried.
        let stranger = scratch.path().join("stranger");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&stranger)
            .status()
            .unwrap();
        assert!(made.success());
        let mut config = tc.ssh_config();
        config.auth = SshAuth::Key(stranger);
        let err = SshRemote::new(config)
            .unwrap()
            .exec(&nodes[0], "true")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&nodes[0])
                && text.contains("login as root with key")
                && text.contains("refused"),
            "{text}"
        );

        // Password logins are off on these nodes: refused, said so.
        let mut config = tc.ssh_config();
        config.auth = SshAuth::Password("hunter2".into());
        let err = SshRemote::new(config)
            .unwrap()
            .exec(&nodes[0], "true")
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("login as root with password refused"),
            "{err}"
        );

        // A file that is not a key fails when the remote is made.
        let mut config = tc.ssh_config();
        config.auth = SshAuth::Key(tc.cluster.nodes_file.clone());
        let err = SshRemote::new(config).err().expect("not a key");
        assert!(err.contains("--ssh-private-key"), "{err}");

        // An address with no node: retried with backoff, then one error naming it.
        let absent = tc.cluster.subnet.node_ip(40).to_string();
        let mut config = tc.ssh_config();
        config.connect_attempts = 3;
        config.connect_timeout = Duration::from_millis(300);
        config.backoff = Duration::from_millis(50);
        let started = Instant::now();
        let err = SshRemote::new(config)
            .unwrap()
            .exec(&absent, "true")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&absent) && text.contains("after 3 attempts"),
            "{text}"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );

        // A node whose sshd is down at first and up later: the retries find it.
        let node_ip = tc.cluster.nodes[1].ip;
        let mut config = tc.ssh_config();
        config.port = 2222;
        config.connect_attempts = 6;
        config.backoff = Duration::from_millis(100);
        let late_sshd = tc.node_dir(1).join("sshd_config");
        let port_config = tc.node_dir(1).join("sshd_config_2222");
        let text = std::fs::read_to_string(&late_sshd)
            .unwrap()
            .replace(":22\n", ":2222\n");
        std::fs::write(&port_config, text).unwrap();
        // Started on the node itself (inside its mount namespace, where sshd's /run is).
        let control = tc.ssh();
        let start_late = format!(
            "sleep 0.4; /usr/sbin/sshd -f {}",
            shell_quote(port_config.to_str().unwrap())
        );
        let late = SshRemote::new(config).unwrap();
        let node = node_ip.to_string();
        let (started, out) = tokio::join!(
            control.exec(&node, &start_late),
            late.exec(&node, "echo late")
        );
        started.unwrap();
        assert_eq!(out.unwrap().stdout, "late\n");
    });
}

/// Not asserted: prints the latency of a first command (connect, login, exec) and of
/// later ones on the reused session, for russh and for the system ssh client.
#[test]
fn measure_russh_against_system_ssh() {
    let tc = TestCluster::up(1, 80);
    let node = tc.nodes()[0].clone();
    const N: u32 = 50;
    let (first, reused) = block_on(async {
        let ssh = tc.ssh();
        let started = Instant::now();
        ssh.exec(&node, "true").await.unwrap();
        let first = started.elapsed();
        let started = Instant::now();
        for _ in 0..N {
            ssh.exec(&node, "true").await.unwrap();
        }
        (first, started.elapsed() / N)
    });
    let key = tc.cluster.private_key.clone();
    let system = || {
        let started = Instant::now();
        let ok = std::process::Command::new("ssh")
            .arg("-i")
            .arg(&key)
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR"])
            .arg(format!("root@{node}"))
            .arg("true")
            .status()
            .unwrap()
            .success();
        assert!(ok);
        started.elapsed()
    };
    let system_each: Duration = (0..10).map(|_| system()).sum::<Duration>() / 10;
    eprintln!(
        "russh: first command (connect + login + exec) {:.2} ms, then {:.2} ms per command on the reused session; system ssh: {:.2} ms per command (a new connection each)",
        first.as_secs_f64() * 1e3,
        reused.as_secs_f64() * 1e3,
        system_each.as_secs_f64() * 1e3
    );
}
