//! Running the real `botbuilder` binary from tests (each test binary uses part of it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary in `cwd` with an empty environment (but `PATH`, `HOME`, `TMPDIR`).
pub(crate) fn botbuilder(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_botbuilder"));
    cmd.current_dir(cwd).env_clear();
    for var in ["PATH", "HOME", "TMPDIR"] {
        if let Some(value) = std::env::var_os(var) {
            cmd.env(var, value);
        }
    }
    cmd
}

/// A running `botbuilder serve` and the address it printed.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) lines: mpsc::Receiver<String>,
}

/// The lines `reader` produces, read on a thread.
pub(crate) fn lines_of(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Starts `cmd` and waits until it prints the address it listens on.
pub(crate) fn serve(mut cmd: Command) -> Served {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn botbuilder");
    let lines = lines_of(child.stderr.take().unwrap());
    let url = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the server printed its address");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    Served { child, url, lines }
}

impl Served {
    /// Sends SIGTERM.
    pub(crate) fn signal_terminate(&self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    }

    /// SIGTERM, then the exit status and the rest of the log.
    pub(crate) fn terminate(mut self) -> (std::process::ExitStatus, String) {
        self.signal_terminate();
        let status = self.child.wait().unwrap();
        let rest: Vec<String> = self.lines.try_iter().collect();
        (status, rest.join("\n"))
    }
}
