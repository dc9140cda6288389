//! `deploy/nginx.conf` and `deploy/Caddyfile` with Debian's real nginx and
//! Caddy on loopback: TLS with a certificate made here, the script and the event endpoint under the
//! site's own `/stats/` path, and the visitor's address passed on in
//! `X-Forwarded-For`, so the stored row has the visitor's location.

use std::path::Path;
use std::process::Command;

use crate::common::*;

const NGINX: &str = "/usr/sbin/nginx";
const CADDY: &str = "/usr/bin/caddy";

/// `curl` against the proxy, resolving the site's names to loopback and
/// trusting the test's certificate; returns (status, body).
fn curl(cert: &Path, port: u16, host: &str, args: &[&str], path: &str) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(cert)
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

/// A proxy, stopped as its service would be (SIGTERM: nginx's master then
/// stops its workers, which a killed master would leave behind) however
/// the test ends.
struct Proxy(std::process::Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        // SAFETY: a signal to the test's own child.
        unsafe {
            libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM);
        }
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_terminates_tls_and_serves_saltmark_from_the_sites_own_domain() {
    assert!(
        Path::new(NGINX).exists(),
        "the proxy test needs Debian's nginx (apt-get install nginx; .ci/install does)"
    );
    let (server, dir, cert, key, root) = setup("proxy_nginx").await;
    let collector = server.url("").trim_start_matches("http://").to_string();
    // The committed configuration, pointed at this test's collector,
    // certificate, port and files.
    let port = free_port();
    let site_config =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
            .unwrap()
            .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
            .replace("127.0.0.1:8000", &collector)
            .replace("/etc/ssl/certs/www.example.com.pem", cert.to_str().unwrap())
            .replace(
                "/etc/ssl/private/www.example.com.key",
                key.to_str().unwrap(),
            )
            .replace("/var/www/html", root.to_str().unwrap())
            // In front of nginx here: the test, as a load balancer that tells
            // nginx the visitor's address (the file's commented lines).
            .replace(
                "#   set_real_ip_from 10.0.0.0/8;",
                "set_real_ip_from 127.0.0.1;",
            )
            .replace(
                "#   real_ip_header X-Forwarded-For;",
                "real_ip_header X-Forwarded-For;",
            );
    let d = dir.path().display();
    let main_config = format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         {site_config}\n}}\n"
    );
    let config_file = dir.path().join("nginx.conf");
    std::fs::write(&config_file, main_config).unwrap();
    let checked = Command::new(NGINX)
        .arg("-t")
        .arg("-c")
        .arg(&config_file)
        .arg("-p")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let _nginx = Proxy(
        Command::new(NGINX)
            .arg("-c")
            .arg(&config_file)
            .arg("-p")
            .arg(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&cert, port, "nginx", &dir.path().join("error.log")).await;
    through_the_proxy(&server, &cert, port).await;
    server.stop().await;
}

/// What both proxies must do: the script first-party, an event from a
/// visitor in London stored with London, the dashboard host whole.
async fn through_the_proxy(server: &TestServer, cert: &Path, port: u16) {
    // The script, first-party.
    let (status, script) = curl(cert, port, "www.example.com", &[], "/stats/js/script.js");
    assert_eq!(status, 200);
    assert!(
        script.contains("/api/event") && script.len() < 4096,
        "{}",
        &script[..script.len().min(200)]
    );
    // An event through the proxy, from a visitor in London.
    let event = r#"{"n":"pageview","u":"https://www.example.com/pricing","d":"example.com"}"#;
    let (status, _) = curl(
        cert,
        port,
        "www.example.com",
        &[
            "-X", "POST", "-H", "Content-Type: text/plain",
            "-H", "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "-H", "X-Forwarded-For: 81.2.69.142",
            "--data", event,
        ],
        "/stats/api/event",
    );
    assert_eq!(status, 202);
    assert_eq!(server.wait_count("SELECT count() FROM events", 1).await, 1);
    let row = server
        .query("SELECT site, pathname, country_code, city FROM events FORMAT TSV")
        .await;
    assert_eq!(
        row, "example.com\t/pricing\tGB\tLondon\n",
        "the visitor's place, not the proxy's"
    );
    // The dashboard host reaches saltmark whole.
    let (status, page) = curl(cert, port, "analytics.example.com", &[], "/");
    assert_eq!(status, 200);
    assert!(page.contains("saltmark"), "{page}");
}

/// A collector that believes the proxy on loopback and knows places, a
/// certificate for the site's names, and a site root to serve.
async fn setup(
    tag: &str,
) -> (
    TestServer,
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let server = TestServer::start(
        tag,
        &[
            ("SALTMARK_SITES", "example.com"),
            ("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32"),
            (
                "SALTMARK_GEO_DB",
                geo_fixture("GeoIP2-City-Test.mmdb").to_str().unwrap(),
            ),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=www.example.com",
        ])
        .args([
            "-addext",
            "subjectAltName=DNS:www.example.com,DNS:example.com,DNS:analytics.example.com",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let root = dir.path().join("www");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("index.html"), "<p>the site</p>").unwrap();
    (server, dir, cert, key, root)
}

/// Waits until the proxy serves the site over TLS.
async fn wait_for(cert: &Path, port: u16, what: &str, log: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while curl(cert, port, "www.example.com", &[], "/").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_terminates_tls_and_serves_saltmark_from_the_sites_own_domain() {
    assert!(
        Path::new(CADDY).exists(),
        "the proxy test needs Debian's caddy (apt-get install caddy; .ci/install does)"
    );
    let (server, dir, cert, key, root) = setup("proxy_caddy").await;
    let collector = server.url("").trim_start_matches("http://").to_string();
    let (port, http_port) = (free_port(), free_port());
    let d = dir.path().display();
    let config = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/Caddyfile"))
        .unwrap()
        .replace(
            "www.example.com, example.com {",
            &format!(
                "{{\n\tadmin off\n\tauto_https disable_redirects\n\thttps_port {port}\n\thttp_port {http_port}\n\
                 \tstorage file_system {d}/caddy\n}}\n\nwww.example.com, example.com {{"
            ),
        )
        // In front of Caddy here: the test, as a load balancer that tells
        // it the visitor's address (the file's commented block).
        .replace(
            "reverse_proxy 127.0.0.1:8000\n",
            &format!("reverse_proxy {collector} {{\n\t\ttrusted_proxies 127.0.0.1/32\n\t}}\n"),
        )
        .replace("www.example.com, example.com {", &format!("www.example.com:{port}, example.com:{port} {{"))
        .replace("analytics.example.com {", &format!("analytics.example.com:{port} {{"))
        .replace("/etc/ssl/certs/www.example.com.pem", cert.to_str().unwrap())
        .replace("/etc/ssl/private/www.example.com.key", key.to_str().unwrap())
        .replace("/var/www/html", root.to_str().unwrap());
    assert!(
        !config.contains(
            "127.0.0.1:8000
"
        ),
        "{config}"
    );
    let file = dir.path().join("Caddyfile");
    std::fs::write(&file, config).unwrap();
    let log = dir.path().join("caddy.log");
    let caddy = |args: &[&str]| {
        let mut command = Command::new(CADDY);
        command
            .args(args)
            .arg("--config")
            .arg(&file)
            .args(["--adapter", "caddyfile"])
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path());
        command
    };
    let valid = caddy(&["validate"]).output().unwrap();
    assert!(
        valid.status.success(),
        "caddy validate: {}",
        String::from_utf8_lossy(&valid.stderr)
    );
    let _caddy = Proxy(
        caddy(&["run"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for(&cert, port, "caddy", &log).await;
    through_the_proxy(&server, &cert, port).await;
    server.stop().await;
}
