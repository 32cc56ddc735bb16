//! Reading untrusted documents in a separate, killable process.
//!
//! [`SubprocessExtractor`] implements the core [`DocumentExtractor`] port: documents whose
//! reading runs a parser (PDF, HTML: [`needs_parser`]) are read by a child process, the
//! server's own binary run as `botbuilder extract --json`, which first lowers its own limits
//! ([`apply_child_limits`]: address space, CPU seconds, no core dumps, no files written) and
//! then parses on a thread with a fixed stack. The parent writes the bytes to the child's
//! stdin, reads one JSON answer from its stdout ([`ChildAnswer`]) and kills it when the time
//! limit passes or the caller goes away (`kill_on_drop`). A stack overflow, an allocation
//! beyond the limit or an endless loop ends that process only: the document is marked
//! `failed` with the reason, and nothing else notices. Plain text and Markdown are taken as
//! they are, without a parser, in this process.
//!
//! The child protocol: argv `extract --json --content-type TYPE --timeout-secs N
//! --memory-mib M`, the document on stdin, `{"Ok": Extracted}` or `{"Err": ExtractError}` on
//! stdout (core's serde forms), exit status 0. Anything else is a crash.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::knowledge::extract::{
    DocumentExtractor, ExtractError, Extracted, InProcessExtractor, MAX_DOCUMENT_BYTES, extract,
    needs_parser, parser_panicked,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

/// The answer a child writes to stdout.
pub type ChildAnswer = Result<Extracted, ExtractError>;

/// Stack of the child's parsing thread (deep documents need some; a bomb still ends there).
pub const CHILD_STACK_BYTES: usize = 64 * 1024 * 1024;
/// Largest answer read from a child: extracted text is at most a few times the document.
const MAX_ANSWER_BYTES: u64 = 4 * MAX_DOCUMENT_BYTES as u64;
/// Bytes of the end of the child's stderr kept to explain a crash.
const STDERR_TAIL_BYTES: usize = 16 * 1024;

/// Limits of one child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Wall-clock time before the child is killed (and CPU time it may use).
    pub timeout: Duration,
    /// Address space the child may map, in bytes.
    pub memory_bytes: u64,
}

/// Reads parser-backed documents in child processes (see the module docs). At most
/// `concurrency` children run at once; others wait their turn.
#[derive(Debug)]
pub struct SubprocessExtractor {
    program: PathBuf,
    limits: ExtractLimits,
    slots: Semaphore,
}

impl SubprocessExtractor {
    /// Runs `program extract --json …` for each parser-backed document.
    pub fn new(program: impl Into<PathBuf>, limits: ExtractLimits, concurrency: usize) -> Self {
        Self {
            program: program.into(),
            limits,
            slots: Semaphore::new(concurrency.max(1)),
        }
    }

    /// The program run.
    pub fn program(&self) -> &Path {
        &self.program
    }

    async fn run_child(&self, content_type: &str, bytes: Vec<u8>) -> ChildAnswer {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| ExtractError::Unavailable("the reader is shutting down".into()))?;
        let mut child = tokio::process::Command::new(&self.program)
            .arg("extract")
            .arg("--json")
            .arg("--content-type")
            .arg(content_type)
            .arg("--timeout-secs")
            .arg(self.limits.timeout.as_secs().max(1).to_string())
            .arg("--memory-mib")
            .arg(
                (self.limits.memory_bytes / (1024 * 1024))
                    .max(1)
                    .to_string(),
            )
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                ExtractError::Unavailable(format!("cannot start {}: {e}", self.program.display()))
            })?;
        let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ExtractError::Unavailable("the reader has no pipes".into()));
        };
        let feed = async move {
            // A child that dies early closes the pipe: its exit status tells why.
            let _ = stdin.write_all(&bytes).await;
            drop(stdin);
        };
        // Past the caps the pipes are still drained, so a chatty child never blocks on a
        // full pipe (it is then judged by what it said, and by its exit).
        let read_answer = async {
            let mut answer = Vec::new();
            let _ = (&mut stdout)
                .take(MAX_ANSWER_BYTES + 1)
                .read_to_end(&mut answer)
                .await;
            let _ = tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await;
            answer
        };
        let read_stderr = async {
            // The end is what explains a crash: keep the last bytes.
            let mut tail = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
                tail.drain(..excess);
            }
            tail
        };
        let talk = async {
            let ((), answer, stderr) = tokio::join!(feed, read_answer, read_stderr);
            let status = child.wait().await;
            (answer, stderr, status)
        };
        let outcome = tokio::time::timeout(self.limits.timeout, talk).await;
        let Ok((answer, stderr, status)) = outcome else {
            let _ = child.kill().await;
            return Err(ExtractError::Timeout);
        };
        let status = status
            .map_err(|e| ExtractError::Unavailable(format!("cannot wait for the reader: {e}")))?;
        let stderr = String::from_utf8_lossy(&stderr);
        if !status.success() {
            return Err(crash_reason(status, &stderr, self.limits));
        }
        if answer.len() as u64 > MAX_ANSWER_BYTES {
            return Err(ExtractError::TooLarge);
        }
        serde_json::from_slice::<ChildAnswer>(&answer).map_err(|e| {
            ExtractError::Unavailable(format!(
                "{} answered something other than an extraction ({e}); is it botbuilder?",
                self.program.display()
            ))
        })?
    }
}

#[async_trait]
impl DocumentExtractor for SubprocessExtractor {
    fn id(&self) -> &str {
        "subprocess"
    }

    async fn extract(&self, content_type: &str, bytes: Vec<u8>) -> ChildAnswer {
        if !needs_parser(content_type) {
            let in_process = InProcessExtractor {
                timeout: self.limits.timeout,
            };
            return in_process.extract(content_type, bytes).await;
        }
        self.run_child(content_type, bytes).await
    }
}

/// Why a child ended without an answer, from its exit status and the end of its stderr.
fn crash_reason(status: ExitStatus, stderr: &str, limits: ExtractLimits) -> ExtractError {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    const SIGKILL: i32 = 9;
    const SIGXCPU: i32 = 24;
    if matches!(signal, Some(SIGXCPU | SIGKILL)) {
        // Over its CPU seconds (the kernel's limit), or killed by the operator or the OOM killer.
        return if signal == Some(SIGXCPU) {
            ExtractError::Timeout
        } else {
            ExtractError::Crashed("the reader was killed".into())
        };
    }
    if stderr.contains("overflowed its stack") {
        return ExtractError::Crashed("stack overflow: the document nests too deeply".into());
    }
    if stderr.contains("memory allocation") {
        return ExtractError::Crashed(format!(
            "out of memory: the document needs more than {} MiB to read",
            limits.memory_bytes / (1024 * 1024)
        ));
    }
    let last_line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let how = match (signal, status.code()) {
        (Some(signal), _) => format!("signal {signal}"),
        (None, Some(code)) => format!("exit status {code}"),
        (None, None) => "unknown exit".to_owned(),
    };
    if last_line.is_empty() {
        ExtractError::Crashed(how)
    } else {
        let line: String = last_line.chars().take(300).collect();
        ExtractError::Crashed(format!("{how}: {line}"))
    }
}

/// Lowers the limits of the current process (the child): `memory_bytes` of address space,
/// `cpu_seconds` of CPU time (then SIGXCPU), no core dumps, no file may be written. Unix
/// only; elsewhere it does nothing.
pub fn apply_child_limits(memory_bytes: u64, cpu_seconds: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, setrlimit};
        let set = |resource, value: u64| {
            setrlimit(
                resource,
                Rlimit {
                    current: Some(value),
                    maximum: Some(value),
                },
            )
            .map_err(std::io::Error::from)
        };
        set(Resource::As, memory_bytes)?;
        set(Resource::Cpu, cpu_seconds)?;
        set(Resource::Core, 0)?;
        set(Resource::Fsize, 0)?;
    }
    #[cfg(not(unix))]
    let _ = (memory_bytes, cpu_seconds);
    Ok(())
}

/// The child's side: applies the limits, reads the document from `input`, parses it on a
/// thread with a [`CHILD_STACK_BYTES`] stack and returns the answer. A parser that overflows
/// that stack or runs out of memory aborts the process, which is the point.
pub fn run_child(
    content_type: &str,
    input: &mut dyn std::io::Read,
    memory_bytes: u64,
    cpu_seconds: u64,
) -> std::io::Result<ChildAnswer> {
    apply_child_limits(memory_bytes, cpu_seconds.saturating_add(1))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(input, MAX_DOCUMENT_BYTES as u64 + 1),
        &mut bytes,
    )?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Ok(Err(ExtractError::TooLarge));
    }
    let content_type = content_type.to_owned();
    let parser = std::thread::Builder::new()
        .name("extract".into())
        .stack_size(CHILD_STACK_BYTES)
        .spawn(move || extract(&content_type, &bytes))?;
    Ok(parser
        .join()
        .unwrap_or_else(|panic| Err(parser_panicked(panic.as_ref()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ExtractLimits {
        ExtractLimits {
            timeout: Duration::from_secs(5),
            memory_bytes: 512 << 20,
        }
    }

    #[tokio::test]
    async fn plain_text_is_read_without_a_child() {
        let extractor = SubprocessExtractor::new("/nonexistent/botbuilder", limits(), 1);
        let read = extractor
            .extract("text/plain", b"hello".to_vec())
            .await
            .unwrap();
        assert_eq!(read.text, "hello");
    }

    #[tokio::test]
    async fn a_missing_program_is_unavailable_and_retryable() {
        let extractor = SubprocessExtractor::new("/nonexistent/botbuilder", limits(), 1);
        let err = extractor
            .extract("text/html", b"<p>hi</p>".to_vec())
            .await
            .unwrap_err();
        assert!(matches!(err, ExtractError::Unavailable(_)), "{err:?}");
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn a_program_that_is_not_a_reader_is_unavailable() {
        // `true` exits 0 with no answer.
        let extractor = SubprocessExtractor::new("true", limits(), 1);
        let err = extractor
            .extract("text/html", b"<p>hi</p>".to_vec())
            .await
            .unwrap_err();
        assert!(matches!(err, ExtractError::Unavailable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_child_that_hangs_is_killed_at_the_time_limit() {
        // A shell script ignoring its input and sleeping stands in for a looping parser.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("hang.sh");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let extractor = SubprocessExtractor::new(
            &script,
            ExtractLimits {
                timeout: Duration::from_millis(300),
                ..limits()
            },
            1,
        );
        let started = std::time::Instant::now();
        let err = extractor
            .extract("application/pdf", b"%PDF-1.4".to_vec())
            .await
            .unwrap_err();
        assert_eq!(err, ExtractError::Timeout);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
