//! A real nginx (Debian's nginx-light) with a private prefix and configuration, on a
//! loopback port, stopped by PID when dropped.

#![allow(dead_code)]

use super::ports::free_port;
use super::prom::which;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl Nginx {
    /// Starts nginx listening on 127.0.0.1 (and [::1]) with `locations` (nginx config
    /// text inside the server block).
    pub fn start(locations: &str) -> Nginx {
        Self::start_listen(locations, "")
    }

    /// As [`Nginx::start`] with HTTP/2 over cleartext (prior knowledge) on the listeners.
    pub fn start_h2c(locations: &str) -> Nginx {
        Self::start_listen(locations, " http2")
    }

    /// As [`Nginx::start`], with `listen_opts` appended to each `listen` address.
    pub fn start_listen(locations: &str, listen_opts: &str) -> Nginx {
        let bin = which("nginx")
            .or_else(|| Some("/usr/sbin/nginx".into()))
            .filter(|p| p.exists())
            .expect("nginx is missing: apt-get install nginx-light (.ci/run does)");
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("telegen-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\nevents {{ worker_connections 256; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  keepalive_requests 1000;\n  server {{\n    listen 127.0.0.1:{port}{listen_opts};\n    listen [::1]:{port}{listen_opts};\n{locations}\n  }}\n}}\n",
            d = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting nginx");
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(10), "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { child, dir, port }
    }

    /// The worker's PID (the process that reads and writes the sockets).
    pub fn master_pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT to the master we started: graceful stop of it and its worker.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGQUIT) };
        let t0 = Instant::now();
        while self.child.try_wait().ok().flatten().is_none()
            && t0.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
