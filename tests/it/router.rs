//! `scalelab serve` under attack, as a user runs it: memory under half-sent bodies, nothing
//! listening but the router, no process outliving `serve`, a broken `--cmd` failing fast with a
//! hint, an unauthenticated router kept on loopback unless confirmed, and the status line and
//! hint of a run without a terminal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;

fn temp_dir(name: &str) -> Scratch {
    fresh_dir("router", name)
}

/// [`write_file`], as a command-line argument.
fn write(dir: &Path, name: &str, text: &str) -> String {
    write_file(dir, name, text).display().to_string()
}

const SCENARIO: &str = include_str!("fixtures/router-test.toml");

/// A running `scalelab serve`, its URL and token, and its standard error as it comes.
struct Serve {
    child: Child,
    url: String,
    token: String,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
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
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = out.read_to_string(&mut rest);
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
        }
    }

    fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A GET with `Connection: close`: the status (0 when there was no answer).
    fn get(&self, path: &str) -> u16 {
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
    fn stop(mut self, limit: Duration) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.wait(limit)
    }

    /// The exit code, waiting up to `limit` (then the process is killed: `None`).
    fn wait(&mut self, limit: Duration) -> Option<i32> {
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

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// `VmRSS` and `VmHWM` (peak) of a process, KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The TCP ports process `pid` listens on.
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    l.to_str()?
                        .strip_prefix("socket:[")?
                        .strip_suffix(']')
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for row in text.lines().skip(1) {
            let f: Vec<&str> = row.split_whitespace().collect();
            // local_address, state (0A = LISTEN), inode.
            if f.len() > 9
                && f[3] == "0A"
                && inodes.iter().any(|i| i == f[9])
                && let Some(port) = f[1]
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            {
                ports.push(port);
            }
        }
    }
    ports
}

fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(str::to_string))
        })
        .is_some_and(|state| state != "Z" && state != "X")
}

#[test]
fn synthetic_instances_listen_nowhere_but_through_the_router() {
    let _shared = shared();
    let dir = temp_dir("listen");
    let scen = write(&dir, "s.toml", SCENARIO);
    let s = Serve::start(&[&scen, "--allow-unauthenticated", "-q"]);
    assert_eq!(s.get("/?message=warm"), 200);
    let router: u16 = s.addr().rsplit(':').next().unwrap().parse().unwrap();
    // Two ready instances, and the only port the process listens on is the router's: the
    // instances cannot be reached around its token check and traffic split.
    assert_eq!(listening_ports(s.pid()), vec![router]);
    assert_eq!(s.stop(Duration::from_secs(20)), Some(0));
}

#[test]
fn half_sent_bodies_leave_the_routers_memory_bounded() {
    let _shared = shared();
    let dir = temp_dir("bodies");
    let scen = write(&dir, "s.toml", SCENARIO);
    let s = Serve::start(&[
        &scen,
        "--allow-unauthenticated",
        "-q",
        "--max-inflight-body",
        "16MiB",
    ]);
    assert_eq!(s.get("/?message=warm"), 200);
    let (before, _) = rss_kib(s.pid());
    // 40 clients each declare 32 MiB (the limit) and send 8 MiB of it, then stall: 320 MiB
    // offered at once. The router used to buffer every body whole (1.26 GB for the issue's
    // 40); it holds at most its in-flight budget now and turns the rest away with 503.
    let senders: Vec<_> = (0..40)
        .map(|_| {
            let addr = s.addr();
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(addr).expect("connects");
                let _ = c.set_write_timeout(Some(Duration::from_secs(3)));
                let head = "POST /?message=big HTTP/1.1\r\nhost: x\r\ncontent-type: \
                            application/json\r\ncontent-length: 33554432\r\n\r\n";
                c.write_all(head.as_bytes()).expect("head");
                let piece = vec![b' '; 64 << 10];
                for _ in 0..128 {
                    if c.write_all(&piece).is_err() {
                        break;
                    }
                }
                c
            })
        })
        .collect();
    let held: Vec<TcpStream> = senders
        .into_iter()
        .map(|t| t.join().expect("sender"))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (during, peak) = rss_kib(s.pid());
    let grew = peak.saturating_sub(before);
    eprintln!("RSS before {before} KiB, during {during} KiB, peak {peak} KiB");
    assert!(
        grew < 64 << 10,
        "RSS {before} KiB before, {during} KiB during (peak {peak} KiB): grew {grew} KiB under \
         320 MiB of half-sent bodies with a 16 MiB budget"
    );
    // It still answers.
    assert_eq!(s.get("/?message=after"), 200);
    drop(held);
    // The refused bodies count as errors: the run's default error-ratio check fails (3).
    assert!(matches!(s.stop(Duration::from_secs(20)), Some(0 | 3)));
}

#[test]
fn no_instance_process_outlives_serve() {
    let _shared = shared();
    let dir = temp_dir("stubborn");
    let scen = write(&dir, "s.toml", SCENARIO);
    let app = write(
        &dir,
        "app.py",
        include_str!("../../runtime/tests/it/fixtures/app.py"),
    );
    // The servers are the shell's children (`&`, `wait`), and ignore SIGTERM.
    let cmd = format!(
        "python3 {app} --ignore-sigterm --pid-dir {} & wait",
        dir.display()
    );
    let s = Serve::start(&[
        &scen,
        "--allow-unauthenticated",
        "-q",
        "--cmd",
        &cmd,
        "--termination-grace",
        "500ms",
    ]);
    let mut up = false;
    for _ in 0..300 {
        if s.get("/") == 200 {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "the app answers: {}", s.stderr());
    let pids = || -> Vec<u32> {
        std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_prefix("pid-")?
                    .parse()
                    .ok()
            })
            .collect()
    };
    for _ in 0..300 {
        if pids().len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pids = pids();
    assert_eq!(pids.len(), 2, "two instances");
    assert!(pids.iter().all(|&p| process_alive(p)));
    assert_eq!(s.stop(Duration::from_secs(30)), Some(0));
    for p in pids {
        assert!(!process_alive(p), "instance process {p} outlived serve");
    }
}

#[test]
fn a_command_that_exits_at_start_fails_serve_fast_with_a_quoting_hint() {
    let _shared = shared();
    let dir = temp_dir("crash");
    let scen = write(&dir, "s.toml", SCENARIO);
    // What `--cmd "python3 app.py $PORT"` in double quotes becomes: the shell replaced $PORT
    // with nothing, and the app exits at start.
    let mut s = Serve::start(&[
        &scen,
        "--allow-unauthenticated",
        "-q",
        "--cmd",
        "echo 'usage: app.py <port>' >&2; exit 2",
    ]);
    let code = s.wait(Duration::from_secs(60));
    let err = s.stderr();
    assert_eq!(code, Some(1), "serve fails by itself: {err}");
    assert_contains(&err, "exited with status 2");
    assert_contains(&err, "usage: app.py <port>");
    assert_contains(&err, "keep failing to start");
    assert_contains(&err, "single quotes");
    assert_contains(&err, "does not mention $PORT");
}

/// A live `run` whose instances cannot start fails (exit 1), and still writes what it measured,
/// with the reason in `live.failure` and the command in the reproduce line.
#[test]
fn a_live_run_that_fails_part_way_writes_what_it_measured() {
    let _shared = shared();
    let dir = temp_dir("run-crash");
    let scen = write(&dir, "s.toml", SCENARIO);
    let out = dir.join("out");
    let o = scalelab(&[
        "run",
        &scen,
        "--duration",
        "30s",
        "--time-scale",
        "0.5",
        "--cmd",
        "exit 2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_contains(&err, "keep failing to start");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("result.json")).expect("written"))
            .expect("JSON");
    let v = &doc["variants"][0];
    assert!(
        v["live"]["failure"]
            .as_str()
            .is_some_and(|f| f.contains("keep failing to start")),
        "{v}"
    );
    assert_eq!(v["slo"]["passed"], false);
    assert!(
        doc["command"].as_str().unwrap().contains("--cmd 'exit 2'"),
        "{doc}"
    );
}

#[test]
fn an_unauthenticated_router_stays_on_loopback_unless_confirmed() {
    let dir = temp_dir("public");
    let scen = write(&dir, "s.toml", SCENARIO);
    let o = scalelab(&[
        "serve",
        &scen,
        "--listen",
        "0.0.0.0:0",
        "--allow-unauthenticated",
        "--stop-after",
        "1s",
    ]);
    assert_exit(&o, 2);
    assert_contains(&stderr(&o), "--confirm-unauthenticated-listen");
    for args in [
        vec!["serve", &scen, "--ready-path", "healthz"],
        vec!["serve", &scen, "--max-request-body", "lots"],
        vec!["serve", &scen, "--header-timeout", "0s"],
        vec!["serve", &scen, "--max-start-failures", "0"],
    ] {
        let o = scalelab(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn without_a_terminal_serve_prints_no_status_line_and_a_hint_that_works() {
    let _shared = shared();
    let dir = temp_dir("quiet");
    let scen = write(&dir, "s.toml", SCENARIO);
    let s = Serve::start(&[&scen, "--token", "t0k3n", "--stop-after", "3s"]);
    let mut s = s;
    let code = s.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0));
    let err = s.stderr();
    assert!(
        err.contains("curl -H 'Authorization: Bearer t0k3n'"),
        "the hint carries the token: {err}"
    );
    assert!(!err.contains("[t="), "no status line on a pipe: {err}");
    // Asked for, it prints one a second, with desired instances within max_scale.
    let s = Serve::start(&[&scen, "--token", "t0k3n", "--stop-after", "3s", "--status"]);
    let mut s = s;
    assert_eq!(s.wait(Duration::from_secs(30)), Some(0));
    let err = s.stderr();
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("[t=")).collect();
    assert!(lines.len() >= 2, "{err}");
    assert!(lines.iter().all(|l| l.contains("/ 2 desired")), "{err}");
    assert_eq!(s.token, "t0k3n");
}
