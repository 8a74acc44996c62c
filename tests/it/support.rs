//! Helpers: run the built binary, find the repository's files.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Tests that measure wall-clock behaviour (live runs) take this lock exclusively; every other
/// command shares it, so a live run never competes with other tests for the two cores.
pub static WALL_CLOCK: std::sync::RwLock<()> = std::sync::RwLock::new(());

thread_local! {
    static HOLDS_SHARED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A shared hold on [`WALL_CLOCK`], taken once per test thread (a second read lock on the same
/// thread could deadlock behind a waiting writer).
pub struct Shared(Option<std::sync::RwLockReadGuard<'static, ()>>);

impl Drop for Shared {
    fn drop(&mut self) {
        if self.0.take().is_some() {
            HOLDS_SHARED.with(|h| h.set(false));
        }
    }
}

/// Takes the shared hold unless this thread already has it.
pub fn shared() -> Shared {
    if HOLDS_SHARED.with(|h| h.replace(true)) {
        return Shared(None);
    }
    Shared(Some(WALL_CLOCK.read().unwrap_or_else(|e| e.into_inner())))
}

/// Runs `scalelab` with `args` in the repository root, without a terminal.
pub fn scalelab(args: &[&str]) -> Output {
    let _shared = shared();
    scalelab_unlocked(args)
}

/// [`scalelab`] without taking the lock (for a test that holds it exclusively).
pub fn scalelab_unlocked(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("the scalelab binary runs")
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The files in `dir` (relative to the root) whose extension is `ext`, sorted.
pub fn files_in(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}/: {e}"))
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// Every bundled scenario file.
pub fn bundled_scenarios() -> Vec<PathBuf> {
    files_in("scenarios", "toml")
}

/// `path` relative to the root, as a string argument.
pub fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Runs `scalelab ARGS` and asserts that it is refused as bad input (exit code 2), showing the
/// arguments and stderr when it is not.
#[track_caller]
pub fn refused(args: &[&str]) -> Output {
    let o = scalelab(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    o
}

/// Asserts `o`'s exit code, showing its stderr when it is another.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
}

/// Asserts that `text` contains `needle`, showing the text when it does not.
#[track_caller]
/// The run completed: exit 0, or 3 when an `[slo]` threshold failed.
pub fn assert_completed(o: &Output) {
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(o));
}

pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} not in:\n{text}");
}

/// A scratch directory: fresh and empty when made, removed with what it holds when dropped.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `contents` to the file `name` in `dir` and returns its path.
pub fn write_file(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    p
}

/// A [`Scratch`] directory `scalelab-{prefix}-{pid}-{name}` under the system's temp dir.
pub fn fresh_dir(prefix: &str, name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("scalelab-{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    Scratch(d)
}

/// A running `scalelab serve`: its URL and token (the first two lines it prints), its
/// standard error as it comes, and the rest of its standard output once it has exited.
pub struct Serve {
    child: Child,
    pub url: String,
    pub token: String,
    stderr: Arc<Mutex<String>>,
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Serve {
    /// Starts `scalelab serve ARGS` (stdout and stderr are read in the background, so it
    /// never blocks on a full pipe).
    pub fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scalelab"))
            .arg("serve")
            .args(args)
            .current_dir(root())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("scalelab starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut url = String::new();
        let mut token = String::new();
        out.read_line(&mut url).expect("url line");
        out.read_line(&mut token).expect("token line");
        let stdout = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = out.read_to_string(&mut rest);
            rest
        });
        Serve {
            child,
            url: url
                .trim()
                .strip_prefix("url: ")
                .unwrap_or_default()
                .to_string(),
            token: token
                .trim()
                .strip_prefix("token: ")
                .unwrap_or_default()
                .to_string(),
            stderr,
            stdout: Some(stdout),
        }
    }

    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A GET with `Connection: close`: the status (0 when there was no answer).
    pub fn get(&self, path: &str) -> u16 {
        let Ok(mut s) = TcpStream::connect(self.addr()) else {
            return 0;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
        let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        if s.write_all(req.as_bytes()).is_err() {
            return 0;
        }
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        resp.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// SIGTERM, then the exit status (killed after `limit`).
    pub fn stop(&mut self, limit: Duration) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.wait(limit)
    }

    /// The exit code, waiting up to `limit` (then the process is killed: `None`).
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let step = Duration::from_millis(20);
        let mut waited = Duration::ZERO;
        while waited < limit {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(step);
            waited += step;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed on stdout after the URL and token lines (call once it has exited).
    pub fn rest_of_stdout(&mut self) -> String {
        self.stdout
            .take()
            .map(|h| h.join().expect("stdout reader"))
            .unwrap_or_default()
    }
}
