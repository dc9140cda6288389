//! The embedded default: a `clickhouse-server` child that saltmark starts,
//! supervises and stops.
//!
//! Design:
//! - The child runs with a config we write under `dir` (loopback only, ports
//!   picked free at first start and kept for restarts, data, logs and tmp all
//!   inside `dir`), so it never touches a system-wide installation.
//! - A dedicated supervisor thread spawns the child and blocks on `wait()`.
//!   The child is spawned with `PR_SET_PDEATHSIG`, which the kernel ties to the
//!   spawning *thread*: because that thread lives exactly as long as the child,
//!   the child receives SIGTERM if saltmark dies, even by `kill -9`.
//! - If the child exits while it should be running, the thread logs it and
//!   starts it again with backoff. [`ManagedClickHouse::stop`] makes the exit
//!   intentional; [`ManagedClickHouse::start`] brings it back on the same
//!   ports and data (tests use this to take ClickHouse away mid-stream).
//! - Tests start their throwaway servers with this same code.
//! - Nobody else may talk to it. At first start two users are generated
//!   with random passwords — `saltmark` (everything) and `saltmark_reader`
//!   (read-only, for the stats API) — and kept in `dir/credentials` (mode
//!   0600, the directory 0700); `users.xml` holds only their SHA-256. The
//!   `default` user gets a password nobody knows, so a request without
//!   credentials fails: another local user, or a web page posting
//!   `text/plain` to the port (DNS rebinding accepts any Host), gets no
//!   answer but an authentication error. Every saltmark command that
//!   attaches to the server reads the file.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why the managed server could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagedError {
    /// The executable is not installed.
    #[error(
        "clickhouse-server not found (looked for {binary:?} in PATH, /usr/sbin and /usr/bin). \
         Install it with `sudo apt-get install clickhouse-server`, \
         or set SALTMARK_CLICKHOUSE_URL to use an existing server"
    )]
    MissingBinary { binary: String },
    /// Filesystem trouble preparing the server's directory.
    #[error("preparing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The server did not answer /ping in time.
    #[error("clickhouse-server did not become ready within {seconds}s; see {log}")]
    NotReady { seconds: u64, log: PathBuf },
}

/// How much memory the managed server may use (a configuration value;
/// its settings are below). The whole of saltmark (collector plus this
/// server) stays under [`SMALL_PROFILE_FLOOR_MIB`] of resident memory with
/// the small profile under the bench load (bench/floor measures it;
/// docs/operations.md states it).
pub use crate::config::ServerProfile;

/// The resident-memory floor stated for the small profile: collector plus
/// ClickHouse peak, in MiB, under the load of `bench/floor` (and of the
/// smaller `tests/it/small_profile.rs`). Measured, not guessed: see docs/operations.md, the
/// "Small machines" section for the run it comes from.
pub const SMALL_PROFILE_FLOOR_MIB: u64 = 768;

impl ServerProfile {
    /// Server-level settings (`config.xml`, or a file in `config.d/`).
    /// Keys a server does not know are ignored by it, so the modern-only
    /// `max_server_memory_usage` is harmless on 18.16.
    pub fn server_settings_xml(self) -> &'static str {
        match self {
            ServerProfile::Standard => {
                "  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
"
            }
            ServerProfile::Small => {
                "  <!-- saltmark small-machine profile (1-2 GB server) -->
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>16777216</uncompressed_cache_size>
  <max_concurrent_queries>16</max_concurrent_queries>
  <max_server_memory_usage>805306368</max_server_memory_usage>
  <background_pool_size>2</background_pool_size>
  <background_schedule_pool_size>4</background_schedule_pool_size>
"
            }
        }
    }

    /// Per-query settings (the `default` user profile, or `users.d/`).
    pub fn user_settings_xml(self) -> &'static str {
        match self {
            ServerProfile::Standard => {
                "<max_memory_usage>4000000000</max_memory_usage><log_queries>0</log_queries>"
            }
            ServerProfile::Small => {
                "<max_memory_usage>400000000</max_memory_usage>\
<max_bytes_before_external_group_by>150000000</max_bytes_before_external_group_by>\
<max_bytes_before_external_sort>150000000</max_bytes_before_external_sort>\
<max_threads>2</max_threads>\
<background_pool_size>2</background_pool_size>\
<background_schedule_pool_size>4</background_schedule_pool_size>\
<log_queries>0</log_queries>"
            }
        }
    }

    /// Files for a ClickHouse server saltmark does not manage: drop the
    /// first into `/etc/clickhouse-server/config.d/` and the second into
    /// `users.d/`.
    /// The small profile also turns the system logs off: `log_queries = 0`
    /// in the user profile (18.16 keeps `query_log` even when its config
    /// section is gone, but writes nothing to it then), and `remove="1"` for
    /// the log tables newer servers keep on their own (metrics, traces,
    /// parts), which grow without bound and compete for memory and disk.
    pub fn standalone_files(self) -> (String, String) {
        let logs_off = match self {
            ServerProfile::Standard => "",
            ServerProfile::Small => {
                "  <query_log remove=\"1\"/>
  <query_thread_log remove=\"1\"/>
  <part_log remove=\"1\"/>
  <trace_log remove=\"1\"/>
  <metric_log remove=\"1\"/>
  <asynchronous_metric_log remove=\"1\"/>
  <text_log remove=\"1\"/>
  <processors_profile_log remove=\"1\"/>
"
            }
        };
        (
            format!(
                "<yandex>\n{}{logs_off}</yandex>\n",
                self.server_settings_xml()
            ),
            format!(
                "<yandex>\n  <profiles><default>{}</default></profiles>\n</yandex>\n",
                self.user_settings_xml()
            ),
        )
    }
}

/// The managed server's users, generated once per directory and kept in
/// `dir/credentials` (0600). `Debug` hides the passwords.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManagedCredentials {
    /// The user of ingest, migrations and the CLI.
    pub user: String,
    /// Its password.
    pub password: String,
    /// The read-only user of the stats API.
    pub reader_user: String,
    /// Its password.
    pub reader_password: String,
}

impl std::fmt::Debug for ManagedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedCredentials")
            .field("user", &self.user)
            .field("reader_user", &self.reader_user)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes as hex, from the OS.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ManagedCredentials {
    /// Fresh users with random passwords.
    pub fn generate() -> ManagedCredentials {
        ManagedCredentials {
            user: "saltmark".into(),
            password: random_secret(),
            reader_user: "saltmark_reader".into(),
            reader_password: random_secret(),
        }
    }

    /// The file they live in.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("credentials")
    }

    /// The credentials of the server in `dir`, if it has any.
    pub fn load(dir: &Path) -> Option<ManagedCredentials> {
        let text = std::fs::read_to_string(Self::path(dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes them to `dir/credentials` (0600).
    pub fn save(&self, dir: &Path) -> Result<(), ManagedError> {
        let path = Self::path(dir);
        let text = serde_json::to_string_pretty(self).expect("serialisable");
        crate::files::write_private(&path, text).map_err(|source| ManagedError::Io { path, source })
    }

    /// Those of `dir`, created (and saved) on first use.
    pub fn load_or_create(dir: &Path) -> Result<ManagedCredentials, ManagedError> {
        if let Some(existing) = Self::load(dir) {
            return Ok(existing);
        }
        let fresh = Self::generate();
        fresh.save(dir)?;
        Ok(fresh)
    }
}

struct Shared {
    /// Whether the child is supposed to be running (false during stop()).
    want_running: AtomicBool,
    /// PID of the current child, 0 when none.
    pid: AtomicU32,
}

/// A supervised `clickhouse-server` child process.
pub struct ManagedClickHouse {
    binary: PathBuf,
    dir: PathBuf,
    credentials: ManagedCredentials,
    http_port: u16,
    tcp_port: u16,
    shared: Arc<Shared>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for ManagedClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedClickHouse")
            .field("dir", &self.dir)
            .field("http_port", &self.http_port)
            .finish()
    }
}

impl ManagedClickHouse {
    /// Writes the config under `dir`, starts the server and waits until it
    /// answers (at most `ready_timeout`).
    pub fn start_in(
        binary: &str,
        dir: &Path,
        ready_timeout: Duration,
    ) -> Result<ManagedClickHouse, ManagedError> {
        Self::start_with_profile(binary, dir, ServerProfile::Standard, ready_timeout)
    }

    /// As [`ManagedClickHouse::start_in`], with the given memory profile.
    pub fn start_with_profile(
        binary: &str,
        dir: &Path,
        profile: ServerProfile,
        ready_timeout: Duration,
    ) -> Result<ManagedClickHouse, ManagedError> {
        let binary = find_binary(binary).ok_or_else(|| ManagedError::MissingBinary {
            binary: binary.to_string(),
        })?;
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| ManagedError::Io { path, source }
        };
        crate::files::private_dir(dir).map_err(io(dir))?;
        let dir = dir.canonicalize().map_err(io(dir))?;
        let credentials = ManagedCredentials::load_or_create(&dir)?;
        let (http_port, tcp_port) = read_or_pick_ports(&dir)?;
        write_config(&dir, http_port, tcp_port, profile, &credentials)?;
        kill_leftover(&dir);
        let server = ManagedClickHouse {
            binary,
            dir,
            credentials,
            http_port,
            tcp_port,
            shared: Arc::new(Shared {
                want_running: AtomicBool::new(false),
                pid: AtomicU32::new(0),
            }),
            supervisor: Mutex::new(None),
        };
        server.start(ready_timeout)?;
        Ok(server)
    }

    /// The HTTP URL of the server (no credentials: safe to log).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The URL with the `saltmark` user's credentials in it (HTTP basic
    /// auth, which ClickHouse and `clickhouse.url` both accept). Holds the
    /// password: for connecting, never for printing.
    pub fn authenticated_url(&self) -> String {
        format!(
            "http://{}:{}@127.0.0.1:{}",
            self.credentials.user, self.credentials.password, self.http_port
        )
    }

    /// The server's users.
    pub fn credentials(&self) -> &ManagedCredentials {
        &self.credentials
    }

    /// The native-protocol port (for `clickhouse-client --port`).
    pub fn tcp_port(&self) -> u16 {
        self.tcp_port
    }

    /// The directory holding config, data and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// (Re)starts the server on its ports and waits until it answers.
    pub fn start(&self, ready_timeout: Duration) -> Result<(), ManagedError> {
        let mut supervisor = self.supervisor.lock().unwrap_or_else(|p| p.into_inner());
        if self.shared.want_running.swap(true, Ordering::SeqCst) {
            drop(supervisor);
            return self.wait_ready(ready_timeout);
        }
        let binary = self.binary.clone();
        let dir = self.dir.clone();
        let shared = self.shared.clone();
        *supervisor = Some(
            std::thread::Builder::new()
                .name("clickhouse-supervisor".into())
                .spawn(move || supervise(&binary, &dir, &shared))
                .map_err(|source| ManagedError::Io {
                    path: self.dir.clone(),
                    source,
                })?,
        );
        drop(supervisor);
        self.wait_ready(ready_timeout)
    }

    /// Stops the server (SIGTERM, then SIGKILL after 15 s) and waits for it.
    pub fn stop(&self) {
        self.shared.want_running.store(false, Ordering::SeqCst);
        let handle = self
            .supervisor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let pid = self.shared.pid.load(Ordering::SeqCst);
        if pid != 0 {
            signal(pid, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            while self.shared.pid.load(Ordering::SeqCst) != 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let pid = self.shared.pid.load(Ordering::SeqCst);
            if pid != 0 {
                signal(pid, libc::SIGKILL);
            }
        }
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Kills the server abruptly (SIGKILL), as a crash would; the supervisor
    /// restarts it unless [`stop`](Self::stop) is called.
    pub fn kill(&self) {
        let pid = self.shared.pid.load(Ordering::SeqCst);
        if pid != 0 {
            signal(pid, libc::SIGKILL);
        }
    }

    /// The child's process id, if one runs.
    pub fn pid(&self) -> Option<u32> {
        Some(self.shared.pid.load(Ordering::SeqCst)).filter(|pid| *pid != 0)
    }

    /// Whether a child process exists right now.
    pub fn is_running(&self) -> bool {
        self.shared.pid.load(Ordering::SeqCst) != 0
    }

    /// Polls `/ping` until it answers `Ok.`.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), ManagedError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if ping(self.http_port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(ManagedError::NotReady {
            seconds: timeout.as_secs(),
            log: self.dir.join("log/clickhouse-server.err.log"),
        })
    }
}

/// The URL and users of a managed server already running in `dir`
/// (started by a `saltmark serve` on this machine), so that `migrate`,
/// `expire` and friends use it instead of starting a second server on the
/// same data.
pub fn already_running(dir: &Path) -> Option<(String, ManagedCredentials)> {
    let text = std::fs::read_to_string(dir.join("ports")).ok()?;
    let http: u16 = text.split_whitespace().next()?.parse().ok()?;
    let credentials = ManagedCredentials::load(dir)?;
    ping(http).then(|| (format!("http://127.0.0.1:{http}"), credentials))
}

/// Whether `dir` holds a managed server's data (an administrative command
/// refuses to start a new, empty one).
pub fn has_database(dir: &Path) -> bool {
    dir.join("data").is_dir() && ManagedCredentials::path(dir).is_file()
}

impl Drop for ManagedClickHouse {
    fn drop(&mut self) {
        self.stop();
    }
}

fn supervise(binary: &Path, dir: &Path, shared: &Shared) {
    let mut backoff = Duration::from_millis(500);
    while shared.want_running.load(Ordering::SeqCst) {
        let started = Instant::now();
        let mut child = match spawn_child(binary, dir) {
            Ok(child) => child,
            Err(e) => {
                tracing::error!(error = %e, "could not start clickhouse-server");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        shared.pid.store(child.id(), Ordering::SeqCst);
        let status = child.wait();
        shared.pid.store(0, Ordering::SeqCst);
        if !shared.want_running.load(Ordering::SeqCst) {
            break;
        }
        tracing::error!(?status, "managed clickhouse-server exited; restarting");
        if started.elapsed() > Duration::from_secs(30) {
            backoff = Duration::from_millis(500);
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

fn spawn_child(binary: &Path, dir: &Path) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(binary);
    command
        .arg(format!(
            "--config-file={}",
            dir.join("config.xml").display()
        ))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid and prctl are async-signal-safe and touch no memory
    // of ours.
    unsafe {
        command.pre_exec(|| {
            // A session of its own: a terminal's Ctrl-C (SIGINT to the
            // foreground process group) reaches only saltmark, which drains
            // what it holds and then stops this server itself.
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn()?;
    crate::files::write_private(&dir.join("server.pid"), child.id().to_string())?;
    Ok(child)
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: sending a signal has no memory-safety implications.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// A previous saltmark that died by SIGKILL before its child noticed would
/// hold the data directory's lock; stop that orphan first (only an orphan:
/// a server whose saltmark is alive is left alone).
fn kill_leftover(dir: &Path) {
    let Ok(text) = std::fs::read_to_string(dir.join("server.pid")) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return;
    };
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let parent = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(1))
        .unwrap_or("");
    if parent == "1" && cmdline.contains(&format!("{}", dir.join("config.xml").display())) {
        signal(pid, libc::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn find_binary(binary: &str) -> Option<PathBuf> {
    if binary.contains('/') {
        let path = PathBuf::from(binary);
        return path.is_file().then_some(path);
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Ports are chosen once per directory and remembered, so a restarted server
/// (and a restarted saltmark) finds its data on the same address.
fn read_or_pick_ports(dir: &Path) -> Result<(u16, u16), ManagedError> {
    let file = dir.join("ports");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let mut it = text
            .split_whitespace()
            .filter_map(|p| p.parse::<u16>().ok());
        if let (Some(http), Some(tcp)) = (it.next(), it.next()) {
            if TcpListener::bind(("127.0.0.1", http)).is_ok()
                && TcpListener::bind(("127.0.0.1", tcp)).is_ok()
            {
                return Ok((http, tcp));
            }
        }
    }
    let io = |source| ManagedError::Io {
        path: file.clone(),
        source,
    };
    let http = free_port().map_err(io)?;
    let mut tcp = free_port().map_err(io)?;
    while tcp == http {
        tcp = free_port().map_err(io)?;
    }
    crate::files::write_private(&file, format!("{http} {tcp}\n")).map_err(io)?;
    Ok((http, tcp))
}

fn write_config(
    dir: &Path,
    http_port: u16,
    tcp_port: u16,
    profile: ServerProfile,
    credentials: &ManagedCredentials,
) -> Result<(), ManagedError> {
    let server_settings = profile.server_settings_xml();
    let user_settings = profile.user_settings_xml();
    let d = dir.display();
    let config = format!(
        r#"<yandex>
  <logger>
    <level>warning</level>
    <log>{d}/log/clickhouse-server.log</log>
    <errorlog>{d}/log/clickhouse-server.err.log</errorlog>
    <size>10M</size>
    <count>3</count>
  </logger>
  <!-- The server sets its own umask (027 by default): nothing it writes
       may be readable by the group or others. -->
  <umask>077</umask>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
{server_settings}  <merge_tree>
    <!-- Dropped parts (old salts, expired months) leave the disk within a minute. -->
    <old_parts_lifetime>60</old_parts_lifetime>
  </merge_tree>
</yandex>
"#
    );
    // `default` must exist (the server's own tasks run as it) but nobody
    // may log in as it: its password is a random one, discarded.
    let nobody = sha256_hex(&random_secret());
    let writer = sha256_hex(&credentials.password);
    let reader = sha256_hex(&credentials.reader_password);
    let (user, reader_user) = (&credentials.user, &credentials.reader_user);
    let users = format!(
        r#"<yandex>
  <profiles>
    <default>{user_settings}</default>
    <reader><readonly>2</readonly>{user_settings}</reader>
  </profiles>
  <users>
    <default>
      <password_sha256_hex>{nobody}</password_sha256_hex>
      <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <{user}>
      <password_sha256_hex>{writer}</password_sha256_hex>
      <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </{user}>
    <{reader_user}>
      <password_sha256_hex>{reader}</password_sha256_hex>
      <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
      <profile>reader</profile>
      <quota>default</quota>
    </{reader_user}>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#
    );
    for (name, text) in [
        ("config.xml", config.as_str()),
        ("users.xml", users.as_str()),
    ] {
        let path = dir.join(name);
        crate::files::write_private(&path, text)
            .map_err(|source| ManagedError::Io { path, source })?;
    }
    for sub in ["log", "data", "tmp", "user_files", "format_schemas"] {
        let path = dir.join(sub);
        crate::files::private_dir(&path).map_err(|source| ManagedError::Io { path, source })?;
    }
    Ok(())
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(1000)));
    if stream
        .write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.") && answer.contains(" 200 ") && answer.ends_with("Ok.\n")
}
