//! The servers a transfer benchmark measures side by side — `clasp serve` (on a
//! local directory or on S3) and nginx — each started on a free loopback port
//! and stopped on drop, and their memory, read from `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A signing secret for the Clasp instances (S3 mode requires one).
const SIGNING_SECRET: &str = "clasp-bench-signing-secret-0123456789abcdef";

/// A free TCP port on 127.0.0.1 (the kernel's pick; released before use).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A set of CPUs a process is confined to, as `taskset -c` takes it: the
/// downloads and metadata GETs are measured once more with the servers on
/// cores of their own and the generator on another, so that the generator's
/// work never preempts a server and its own CPU shows whether it was the
/// limit.
#[derive(Debug, Clone)]
pub struct Cpus {
    /// The first CPU of the set.
    first: usize,
    /// How many CPUs the set holds, from `first` on.
    pub count: usize,
}

impl Cpus {
    /// This machine's CPUs split in two: every one but the last for the
    /// servers, the last for the generator; `None` on one CPU.
    pub fn split() -> Option<(Cpus, Cpus)> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores >= 2).then(|| {
            let servers = Cpus {
                first: 0,
                count: cores - 1,
            };
            let generator = Cpus {
                first: cores - 1,
                count: 1,
            };
            (servers, generator)
        })
    }

    /// The number of CPUs `cpus` gives a process: all of this machine's
    /// without a set.
    pub fn count_of(cpus: Option<&Cpus>) -> usize {
        cpus.map_or_else(
            || std::thread::available_parallelism().map_or(2, |n| n.get()),
            |c| c.count,
        )
    }

    /// `taskset`'s list, e.g. `1-1` or `0-2`.
    fn list(&self) -> String {
        format!("{}-{}", self.first, self.first + self.count - 1)
    }

    /// The set's busy and total time so far (`/proc/stat`, in clock ticks):
    /// two readings give the share of the time between them it was busy.
    pub fn times(&self) -> Result<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat")?;
        let mut sums = (0, 0);
        for cpu in self.first..self.first + self.count {
            let name = format!("cpu{cpu} ");
            let line = stat
                .lines()
                .find_map(|l| l.strip_prefix(&name))
                .with_context(|| format!("no {name}in /proc/stat"))?;
            let ticks: Vec<u64> = line
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()?;
            // user nice system idle iowait irq softirq steal …
            let [user, nice, system, idle, iowait, irq, softirq, steal, ..] = ticks[..] else {
                bail!("{name}in /proc/stat has {} fields", ticks.len());
            };
            sums.0 += user + nice + system + irq + softirq + steal;
            sums.1 += user + nice + system + idle + iowait + irq + softirq + steal;
        }
        Ok(sums)
    }
}

/// A command running `bin`, confined to `cpus` when given (through
/// `taskset`, so the process sizes its workers by the set from the start).
pub fn command(bin: &Path, cpus: Option<&Cpus>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut taskset = Command::new("taskset");
            taskset.arg("-c").arg(cpus.list()).arg(bin);
            taskset
        }
        None => Command::new(bin),
    }
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    fn spawn(mut command: Command, port: u16, what: &str) -> Result<Server> {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {what}"))?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("{what} exited at start: {status}");
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("{what} did not listen on port {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's process id (its memory is read from `/proc/PID`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    /// Asks with SIGTERM first: nginx's master then stops its workers, which a
    /// SIGKILL of the master alone would leave running (and taking CPU from the
    /// next measurement). Whatever has not ended within seconds is killed.
    fn drop(&mut self) {
        let asked = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(5);
        while asked && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a Clasp instance keeps its bytes.
#[derive(Debug, Clone)]
pub enum Storage {
    /// `file://<dir>/blobs`: the embedded default.
    Local,
    /// A bucket of an S3 server.
    S3(S3Target),
}

/// An S3 bucket and the credentials for it.
#[derive(Debug, Clone)]
pub struct S3Target {
    /// `http://host:port`.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The region name the server expects.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl S3Target {
    /// The bucket that `scripts/services.sh` starts (its `CLASP_TEST_S3_*`
    /// variables), if they are set.
    pub fn from_env() -> Option<S3Target> {
        let var = |name: &str| std::env::var(format!("CLASP_TEST_S3_{name}")).ok();
        Some(S3Target {
            endpoint: var("ENDPOINT")?,
            bucket: var("BUCKET")?,
            region: var("REGION")?,
            access_key_id: var("ACCESS_KEY_ID")?,
            secret_access_key: var("SECRET_ACCESS_KEY")?,
        })
    }
}

/// A `clasp serve` under benchmark, with a tenant and a key able to do
/// everything.
pub struct Clasp {
    /// The process.
    pub server: Server,
    /// A bearer key of the tenant `bench`.
    pub key: String,
    /// Runs `clasp` with the server's settings (its `admin` commands).
    cli: ClaspCli,
}

/// `clasp` with one instance's settings, and nothing else of the environment.
pub struct ClaspCli {
    bin: PathBuf,
    dir: PathBuf,
    env: Vec<(&'static str, String)>,
    cpus: Option<Cpus>,
}

impl ClaspCli {
    /// `bin` keeping its files in `dir`, its bytes as `storage` says, and its
    /// metadata on the PostgreSQL database of `database_url`, or in the
    /// embedded SQLite file in `dir` without one.
    pub fn new(bin: &Path, dir: &Path, storage: &Storage, database_url: Option<&str>) -> ClaspCli {
        let mut env = vec![
            ("CLASP_DATA_DIR", dir.join("data").display().to_string()),
            ("CLASP_SIGNING_SECRET", SIGNING_SECRET.to_owned()),
            ("CLASP_LOG_LEVEL", "warn".to_owned()),
        ];
        if let Some(url) = database_url {
            env.push(("CLASP_DATABASE_URL", url.to_owned()));
        }
        if let Storage::S3(s3) = storage {
            env.extend([
                ("CLASP_STORAGE_URL", format!("s3://{}", s3.bucket)),
                ("CLASP_S3_ENDPOINT", s3.endpoint.clone()),
                ("CLASP_S3_REGION", s3.region.clone()),
                ("CLASP_S3_ACCESS_KEY_ID", s3.access_key_id.clone()),
                ("CLASP_S3_SECRET_ACCESS_KEY", s3.secret_access_key.clone()),
            ]);
        }
        ClaspCli {
            bin: bin.to_owned(),
            dir: dir.to_owned(),
            env,
            cpus: None,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = command(&self.bin, self.cpus.as_ref());
        // Only what is set here: Clasp refuses CLASP_* variables it does
        // not know, such as the test suite's CLASP_TEST_*.
        c.args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Runs `clasp ARGS` to the end; answers its standard output.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command(args)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running clasp {}", args.join(" ")))?;
        if !out.status.success() {
            bail!("clasp {} failed: {}", args.join(" "), out.status);
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl Clasp {
    /// Starts `bin serve` on its embedded SQLite database in `dir`, storing bytes
    /// as `storage` says with the `durability` setting, after creating the
    /// tenant and key with `bin admin`.
    pub fn start(bin: &Path, dir: &Path, storage: &Storage, durability: &str) -> Result<Clasp> {
        Clasp::start_on(bin, dir, storage, durability, None)
    }

    /// [`Clasp::start`] confined to `cpus`, with one worker per CPU of the
    /// set (its default, taken from the set it starts on).
    pub fn start_confined(
        bin: &Path,
        dir: &Path,
        storage: &Storage,
        durability: &str,
        cpus: &Cpus,
    ) -> Result<Clasp> {
        let mut cli = ClaspCli::new(bin, dir, storage, None);
        cli.cpus = Some(cpus.clone());
        Clasp::serve(cli, dir, durability)
    }

    /// [`Clasp::start`], on the PostgreSQL database of `database_url` when
    /// one is given.
    pub fn start_on(
        bin: &Path,
        dir: &Path,
        storage: &Storage,
        durability: &str,
        database_url: Option<&str>,
    ) -> Result<Clasp> {
        Clasp::serve(
            ClaspCli::new(bin, dir, storage, database_url),
            dir,
            durability,
        )
    }

    /// Creates the tenant and key with `cli`, then starts it serving.
    fn serve(mut cli: ClaspCli, dir: &Path, durability: &str) -> Result<Clasp> {
        let (port, admin_port) = (free_port()?, free_port()?);
        cli.env.extend([
            ("CLASP_LISTEN", format!("127.0.0.1:{port}")),
            ("CLASP_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}")),
            ("CLASP_DURABILITY", durability.to_owned()),
        ]);
        std::fs::create_dir_all(dir)?;
        cli.run(&["admin", "tenant", "create", "--slug", "bench"])?;
        let key = cli.run(&[
            "admin",
            "key",
            "create",
            "--tenant",
            "bench",
            "--scopes",
            "attachments:read,attachments:write,attachments:delete",
        ])?;
        let server = Server::spawn(cli.command(&["serve"]), port, "clasp serve")?;
        Ok(Clasp { server, key, cli })
    }

    /// Runs `clasp ARGS` on this instance's stores while it serves (an
    /// `admin` command, `gc`); answers its standard output.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        self.cli.run(args)
    }
}

/// nginx serving `www` with sendfile and accepting PUTs to `/put/` (its dav
/// module), as the fastest thing that could do Clasp's work on this machine;
/// confined to `cpus` when given, with one worker per CPU it has.
pub fn nginx(bin: &Path, dir: &Path, www: &Path, cpus: Option<&Cpus>) -> Result<Server> {
    let port = free_port()?;
    let temp = dir.join("temp");
    std::fs::create_dir_all(&temp)?;
    std::fs::create_dir_all(www.join("put"))?;
    let user = if is_root() { "user root;" } else { "" };
    // Tuned as its users tune it for these workloads: one worker per core,
    // sendfile, long keep-alive, and request bodies read in 1 MiB buffers
    // (the default 16 KiB goes to the temporary file in 16 KiB writes).
    // `/ceiling/…` are its cheapest answers, where the generator's own
    // ceiling is measured: an empty 204, and a body read into memory, then
    // dropped (proxied without it to that 204).
    let conf = format!(
        "{user}
daemon off;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    default_type application/octet-stream;
    client_body_buffer_size 1m;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    upstream itself {{
        server 127.0.0.1:{port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location /put/ {{
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 64m;
        }}
        location = /ceiling/empty {{
            return 204;
        }}
        location = /ceiling/sink {{
            client_max_body_size 64m;
            client_body_buffer_size 64m;
            proxy_pass http://itself/ceiling/empty;
            proxy_pass_request_body off;
            proxy_set_header Content-Length \"\";
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }}
    }}
}}
",
        workers = Cpus::count_of(cpus),
        dir = dir.display(),
        temp = temp.display(),
        www = www.display(),
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf)?;
    let mut command = command(bin, cpus);
    command
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf_path);
    Server::spawn(command, port, "nginx")
}

/// tus's own Node.js server (`script`: bench/tus/server.mjs, installed with
/// its packages by `scripts/services.sh`), storing uploads under `dir`.
pub fn tus(script: &Path, dir: &Path) -> Result<Server> {
    let port = free_port()?;
    std::fs::create_dir_all(dir)?;
    let mut command = Command::new("node");
    command
        .arg(script)
        .env("PORT", port.to_string())
        .env("DIR", dir);
    Server::spawn(command, port, "@tus/server")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Resets the peak resident set size of process `pid` to its current size
/// (Linux's `clear_refs` with 5), so a later [`peak_rss`] measures one workload.
pub fn reset_peak_rss(pid: u32) -> Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .with_context(|| format!("resetting the peak RSS of process {pid}"))
}

/// The peak resident set size (`VmHWM`) of process `pid`, in bytes.
pub fn peak_rss(pid: u32) -> Result<u64> {
    status_kib(pid, "VmHWM:").map(|kib| kib * 1024)
}

/// The resident set size (`VmRSS`) of process `pid`, in bytes.
pub fn rss(pid: u32) -> Result<u64> {
    status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}
