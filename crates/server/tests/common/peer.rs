//! A real redis-server as a reference peer (Debian's in CI; `FERROKV_DIFF_REDIS` picks
//! another binary, e.g. a 7.2.6 build).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A reference redis-server, killed (and its directory removed) on drop, panics included.
pub struct RedisGuard {
    child: Child,
    dir: PathBuf,
}

impl Drop for RedisGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn start_redis() -> (RedisGuard, u16) {
    let bin = std::env::var("FERROKV_DIFF_REDIS").unwrap_or_else(|_| "redis-server".into());
    let port = super::free_port();
    let dir = std::env::temp_dir().join(format!("ferrokv-peer-redis-{port}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new(&bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let guard = RedisGuard { child, dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (guard, port);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("redis-server did not start on port {port}");
}
