//! The command line as a user meets it: errors that name the path once, the key that
//! changes a taken port, and help that describes every argument. Runs the real binary.

use std::net::TcpListener;
use std::process::{Command, Output};

fn telegen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_telegen")).args(args).output().expect("run telegen")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_missing_file_is_named_once_with_its_cause_once() {
    for args in [
        &["replay", "/nonexistent/x.pcap"][..],
        &["config", "check", "/nonexistent/x.yaml"][..],
        &["replay", "--config", "/nonexistent/x.yaml", "/nonexistent/x.pcap"][..],
    ] {
        let o = telegen(args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
        assert_eq!(e.matches("No such file or directory").count(), 1, "{args:?}: {e}");
        assert_eq!(e.matches("/nonexistent/x.").count(), 1, "{args:?}: {e}");
    }
    let dir = std::env::temp_dir();
    let o = telegen(&["replay", dir.to_str().unwrap()]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.matches("Is a directory").count() <= 1, "{e}");
}

#[test]
fn a_taken_prometheus_port_names_the_key_that_moves_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let cfg = std::env::temp_dir().join(format!("telegen-cli-port-{}.yaml", std::process::id()));
    std::fs::write(&cfg, format!("agent:\n  exporters:\n    prometheus:\n      listen: {addr}\n"))
        .unwrap();
    // The endpoint is bound before any kernel program is loaded: this fails first.
    let o = telegen(&["run", "--config", cfg.to_str().unwrap()]);
    let _ = std::fs::remove_file(&cfg);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains(&addr.to_string()), "{e}");
    assert!(e.contains("agent.exporters.prometheus.listen"), "{e}");
    assert_eq!(e.matches("Address already in use").count(), 1, "{e}");
}

#[test]
fn every_argument_of_every_subcommand_is_described() {
    for sub in ["run", "check", "replay", "config check", "config default"] {
        let mut args: Vec<&str> = sub.split(' ').collect();
        args.push("-h");
        let o = telegen(&args);
        let h = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{sub}: {h}");
        // In the short help, clap prints each argument and its description on one line.
        for line in h.lines().filter(|l| l.starts_with("  ")) {
            let t = line.trim();
            if t.starts_with('-') || t.starts_with('<') {
                assert!(
                    t.split("  ").filter(|p| !p.trim().is_empty()).count() >= 2,
                    "{sub}: an argument without a description: {line:?}\n{h}"
                );
            }
        }
    }
    let h = String::from_utf8_lossy(&telegen(&["replay", "--help"]).stdout).into_owned();
    assert!(h.contains("pcap or pcapng"), "{h}");
}
