//! `deploy/nginx.conf` with Debian's real nginx on loopback: TLS with a
//! certificate made here, the script and the event endpoint under the
//! site's own `/stats/` path, and the visitor's address passed on in
//! `X-Forwarded-For`, so the stored row has the visitor's location.

use std::path::Path;
use std::process::Command;

use crate::common::*;

const NGINX: &str = "/usr/sbin/nginx";

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

/// nginx, stopped as its service would be (SIGTERM to the master, which
/// stops its workers) however the test ends: a killed master would leave
/// workers behind.
struct Nginx(std::process::Child);

impl Drop for Nginx {
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
    let server = TestServer::start(
        "proxy",
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
    let collector = server
        .url("")
        .trim_end_matches('/')
        .trim_start_matches("http://")
        .to_string();
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
    let _nginx = Nginx(
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
    // Ready when the site answers over TLS.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while curl(&cert, port, "www.example.com", &[], "/").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "nginx did not start: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // The script, first-party.
    let (status, script) = curl(&cert, port, "www.example.com", &[], "/stats/js/script.js");
    assert_eq!(status, 200);
    assert!(
        script.contains("/api/event") && script.len() < 4096,
        "{}",
        &script[..script.len().min(200)]
    );
    // An event through the proxy, from a visitor in London.
    let event = r#"{"n":"pageview","u":"https://www.example.com/pricing","d":"example.com"}"#;
    let (status, _) = curl(
        &cert,
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
    let (status, page) = curl(&cert, port, "analytics.example.com", &[], "/");
    assert_eq!(status, 200);
    assert!(page.contains("saltmark"), "{page}");
    server.stop().await;
}
