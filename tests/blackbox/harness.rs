//! Starting and stopping `clasp` processes, and running its admin commands.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The binary under test, built by cargo for this test target.
pub const BIN: &str = env!("CARGO_BIN_EXE_clasp");

/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// The admin token every test server is given.
pub const ADMIN_TOKEN: &str = "blackbox-admin-token-0123456789abcdef";

/// A free loopback port (bound and released; the server binds it next),
/// never one handed out before, by this test process or by another while it
/// runs: the kernel may give a released port to the next that asks, a test's
/// public and admin listeners must not both get it, and nextest runs each
/// test in a process of its own. Each port handed out is claimed by a lock
/// on a file named after it, held until the process ends.
pub fn free_port() -> u16 {
    static HELD: std::sync::Mutex<Vec<(u16, std::fs::File)>> = std::sync::Mutex::new(Vec::new());
    let claims = std::env::temp_dir().join("clasp-test-ports");
    std::fs::create_dir_all(&claims).unwrap();
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if held.iter().any(|(given, _)| *given == port) {
            continue;
        }
        let claim = std::fs::File::create(claims.join(port.to_string())).unwrap();
        if claim.try_lock().is_ok() {
            held.push((port, claim));
            return port;
        }
    }
}

/// Points `command`'s public and admin listeners at two ports of
/// [`free_port`]'s: their base URLs.
fn listen_on(command: &mut Command) -> (String, String) {
    let (port, admin_port) = (free_port(), free_port());
    command
        .env("CLASP_LISTEN", format!("127.0.0.1:{port}"))
        .env("CLASP_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"));
    addresses(command)
}

/// The base URLs of `command`'s public and admin listeners, as its
/// environment names them.
fn addresses(command: &Command) -> (String, String) {
    let named = |var: &str| {
        command
            .get_envs()
            .find(|(name, _)| *name == var)
            .and_then(|(_, value)| value?.to_str())
            .map(|value| format!("http://{value}"))
            .unwrap_or_default()
    };
    (named("CLASP_LISTEN"), named("CLASP_ADMIN_LISTEN"))
}

/// A scratch directory a `clasp` process runs in, with its own `./data`.
pub struct Workdir {
    pub dir: TempDir,
    pub env: Vec<(String, String)>,
}

impl Workdir {
    /// A fresh directory; its servers' admin listener takes a free port
    /// (never the default 9090, which servers of other tests would share) and
    /// [`ADMIN_TOKEN`].
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            env: vec![
                (
                    "CLASP_ADMIN_LISTEN".to_owned(),
                    format!("127.0.0.1:{}", free_port()),
                ),
                ("CLASP_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned()),
            ],
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(self.path()).env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `clasp ARGS`, returning its whole output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs `clasp ARGS`, which must succeed; returns stdout trimmed.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "clasp {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Creates a tenant and a key with `scopes`; returns the key.
    pub fn tenant_with_key(&self, slug: &str, scopes: &str) -> String {
        self.admin(&["admin", "tenant", "create", "--slug", slug]);
        self.admin(&[
            "admin", "key", "create", "--tenant", slug, "--scopes", scopes,
        ])
    }

    pub fn blob_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    walk(&p, out)
                } else {
                    out.push(p)
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.path().join("data/blobs"), &mut out);
        out
    }
}

/// A running `clasp serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub admin_base: String,
}

impl Server {
    /// Starts `clasp serve` in `work` on a free port and waits until it answers.
    pub fn start(work: &Workdir) -> Server {
        Server::start_with(work, |_| {})
    }

    /// The same, `adjust` changing the command before it starts (more
    /// environment, another log level, where its standard error goes). A
    /// server that exits before it listens on ports of [`free_port`]'s is
    /// started again on others, twice at most: between the port's release
    /// and the server's bind, any process's outgoing connection may take it.
    pub fn start_with(work: &Workdir, adjust: impl FnOnce(&mut Command)) -> Server {
        let mut command = work.command(&["serve"]);
        let chosen = listen_on(&mut command);
        command
            .env("CLASP_WORKERS", "2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        adjust(&mut command);
        // `adjust` may name the addresses itself (a restart on the same ones).
        let own = addresses(&command) == chosen;
        let mut again = 2;
        loop {
            let (base, admin_base) = addresses(&command);
            let mut server = Server {
                child: command.spawn().unwrap(),
                base,
                admin_base,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(_) if own && again > 0 => {
                    again -= 1;
                    listen_on(&mut command);
                }
                Err(status) => panic!("clasp serve exited early: {status}"),
            }
        }
    }

    /// Waits until the server listens; how it exited if it did first.
    fn wait_ready(&mut self) -> Result<(), std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(status);
            }
            if std::net::TcpStream::connect(self.base.trim_start_matches("http://")).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("clasp serve did not start listening within 30 s");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `path` on the admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("{}{path}", self.admin_base)
    }

    /// The admin listener's `/metrics` page, as a scraper reads it.
    pub async fn metrics(&self) -> String {
        let res = client()
            .get(self.admin_url("/metrics"))
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success(),
            "/metrics answered {}",
            res.status()
        );
        res.text().await.unwrap()
    }

    /// The value of one series of `/metrics` (`name{labels}` as exposed),
    /// 0 when it is absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let page = self.metrics().await;
        page.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |value| value.trim().parse().unwrap())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for a graceful exit; returns the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "clasp serve ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A multipart form with one file field.
pub fn form(
    field: &str,
    filename: &str,
    content_type: &str,
    data: Vec<u8>,
) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(data)
        .file_name(filename.to_owned())
        .mime_str(content_type)
        .unwrap();
    reqwest::multipart::Form::new()
        .text("note", "hello")
        .part(field.to_owned(), part)
}

/// The ticket the shared helpers file attachments under.
pub const HELPER_TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";

/// Uploads `data` through the `tickets` dialect and answers the attachment's
/// Clasp-signed download URL: the shortest way to bytes Clasp serves.
pub async fn upload_and_sign(
    server: &Server,
    key: &str,
    filename: &str,
    content_type: &str,
    data: &[u8],
) -> String {
    let c = client();
    let id = upload_to_ticket(
        &c,
        server,
        key,
        HELPER_TICKET,
        form("file", filename, content_type, data.to_vec()),
    )
    .await;
    ticket_signed_url(&c, server, key, &id).await
}

/// The bytes of attachment `id` of [`HELPER_TICKET`] through its signed URL, or `None` if the
/// instance does not know it.
pub async fn ticket_read_back(
    c: &reqwest::Client,
    server: &Server,
    key: &str,
    id: &str,
) -> Option<Vec<u8>> {
    let url = server.url(&format!(
        "/v1/tickets/{HELPER_TICKET}/attachments/{id}/download"
    ));
    let res = c.get(url).bearer_auth(key).send().await.unwrap();
    if res.status() == reqwest::StatusCode::NOT_FOUND {
        return None;
    }
    let answer: serde_json::Value = res.json().await.unwrap();
    let (status, bytes) = fetch(c, answer["signed_url"].as_str().unwrap()).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    Some(bytes)
}

/// The `signed_url` the tickets dialect hands out for attachment `id` of
/// [`HELPER_TICKET`].
pub async fn ticket_signed_url(
    c: &reqwest::Client,
    server: &Server,
    key: &str,
    id: &str,
) -> String {
    let url = server.url(&format!(
        "/v1/tickets/{HELPER_TICKET}/attachments/{id}/download"
    ));
    let dl: serde_json::Value = c
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    dl["signed_url"].as_str().unwrap().to_owned()
}

/// The value of an environment variable the test command exports.
/// `POST path` of the workspaces dialect in workspace (tenant) `ws` with `key`:
/// the status and the JSON answer (null if none).
pub async fn workspace_post(
    server: &Server,
    key: &str,
    ws: &str,
    path: &str,
    body: serde_json::Value,
) -> (reqwest::StatusCode, serde_json::Value) {
    let res = client()
        .post(server.url(&format!("/v1/workspaces/{ws}{path}")))
        .bearer_auth(key)
        .header("x-workspace-id", ws)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or_default())
}

/// PUTs `data` to the upload URL of `begun` (an upload-url answer) as the
/// client is told to; the HTTP client states the body's real length itself,
/// as clients do.
pub async fn put_to(begun: &serde_json::Value, data: Vec<u8>) -> reqwest::Response {
    assert_eq!(begun["method"], "PUT");
    let mut req = client().put(begun["url"].as_str().unwrap());
    for (name, value) in begun["headers"].as_object().unwrap() {
        if !name.eq_ignore_ascii_case("content-length") {
            req = req.header(name, value.as_str().unwrap());
        }
    }
    req.body(data).send().await.unwrap()
}

/// Uploads `data` as the upload-url answer `begun` says to by form `POST`: its
/// `post.fields`, then the file as the field `file`, declared `content_type`.
pub async fn post_form_to(
    begun: &serde_json::Value,
    data: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    let post = &begun["post"];
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in post["fields"].as_object().unwrap() {
        form = form.text(name.clone(), value.as_str().unwrap().to_owned());
    }
    let file = reqwest::multipart::Part::bytes(data)
        .file_name("upload.bin")
        .mime_str(content_type)
        .unwrap();
    let url = post["url"].as_str().unwrap();
    client()
        .post(url)
        .multipart(form.part("file", file))
        .send()
        .await
        .unwrap()
}

/// Runs `command` to its end; its standard output, or a panic with its
/// standard error if it failed.
pub fn stdout_of(command: &mut Command) -> Vec<u8> {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the suite with ./scripts/test.sh, which starts \
             PostgreSQL and SeaweedFS and installs Chromium and the OpenAPI tools (or eval \
             the output of scripts/services.sh up, scripts/browser.sh and \
             scripts/openapi-tools.sh first)"
        )
    })
}

/// Uploads `form` to `ticket` through the tickets dialect, which must accept it;
/// returns the new attachment's id.
pub async fn upload_to_ticket(
    c: &reqwest::Client,
    server: &Server,
    key: &str,
    ticket: &str,
    form: reqwest::multipart::Form,
) -> String {
    let res = c
        .post(server.url(&format!("/v1/tickets/{ticket}/attachments")))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let created: serde_json::Value = res.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

/// `GET url` with the Bearer `key`: the JSON answer.
pub async fn bearer_json(c: &reqwest::Client, url: &str, key: &str) -> serde_json::Value {
    let res = c.get(url).bearer_auth(key).send().await.unwrap();
    res.json().await.unwrap()
}

/// `GET url` without credentials: the status and the body.
pub async fn fetch(c: &reqwest::Client, url: &str) -> (reqwest::StatusCode, Vec<u8>) {
    let res = c.get(url).send().await.unwrap();
    (res.status(), res.bytes().await.unwrap().to_vec())
}

/// Writes `data` as one chunk of a `Transfer-Encoding: chunked` body.
pub fn write_chunk(stream: &mut std::net::TcpStream, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    stream.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    stream.write_all(data)?;
    stream.write_all(b"\r\n")
}

/// A figure of the server's `/proc/PID/status`, e.g. `VmRSS` (in KiB) or `Threads`.
pub fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Connects to the server with a short read timeout.
pub fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// The start of the server's answer on `stream` (empty if it closed without one).
pub fn answer(stream: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 8192];
    let n = stream.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}
