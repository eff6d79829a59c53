//! Networking: the TCP listener (bind, protected mode, maxclients) and one task per
//! connection ([`connection`]).

pub mod client;
pub mod connection;
pub mod outbox;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::server::Server;

const PROTECTED_MODE_ERROR: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Binds every address of `bind` on `port` (`-` prefix = optional, as in Redis 7).
/// Must run inside the Tokio runtime; binding itself does not block.
pub fn bind(port: u16, bind: &[String]) -> std::io::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    for addr in bind {
        let (optional, addr) = match addr.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, addr.as_str()),
        };
        let host = match addr {
            "*" => "0.0.0.0",
            "::*" => "::",
            a => a,
        };
        match bind_one(host, port) {
            Ok(l) => out.push(l),
            Err(e) if optional => tracing::debug!("optional bind {host}:{port} failed: {e}"),
            Err(e) => {
                return Err(std::io::Error::new(e.kind(), format!("Could not create server TCP listening socket {host}:{port}: {e}")))
            }
        }
    }
    Ok(out)
}

fn bind_one(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let ip: IpAddr = match host.parse() {
        Ok(ip) => ip,
        Err(_) => (host, port)
            .to_socket_addrs()?
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad address"))?,
    };
    let sa = SocketAddr::new(ip, port);
    let sock = if sa.is_ipv6() { tokio::net::TcpSocket::new_v6()? } else { tokio::net::TcpSocket::new_v4()? };
    sock.set_reuseaddr(true)?;
    if sa.is_ipv6() {
        // Keep IPv6 sockets v6-only so `* -::*` can bind both families on one port.
        let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
        let one: libc::c_int = 1;
        // SAFETY: setsockopt on a socket we own with a valid int option.
        unsafe {
            libc::setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, &one as *const _ as *const libc::c_void, 4);
        }
    }
    sock.bind(sa)?;
    sock.listen(511)
}

/// Binds the configured addresses and, only if all succeed, replaces the running
/// accept loops with new ones (start-up, and CONFIG SET port/bind).
pub fn listen(srv: &Arc<Server>) -> std::io::Result<()> {
    let s = srv.config.settings();
    let listeners = bind(s.port, &s.bind)?;
    if listeners.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address to listen on"));
    }
    let mut handles = srv.listeners.lock();
    for h in handles.drain(..) {
        h.abort();
    }
    for l in listeners {
        handles.push(tokio::spawn(accept_loop(srv.clone(), l)));
    }
    srv.port.store(s.port as u64, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

pub async fn accept_loop(srv: Arc<Server>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let srv = srv.clone();
        tokio::spawn(async move { admit(srv, stream, peer).await });
    }
}

async fn admit(srv: Arc<Server>, mut stream: TcpStream, peer: SocketAddr) {
    let s = srv.config.settings();
    srv.stats.connections_received.fetch_add(1, Ordering::Relaxed);
    if srv.connected.load(Ordering::Relaxed) >= s.maxclients {
        srv.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        return;
    }
    let default_bind = s.bind.len() == 2 && s.bind[0] == "*" && s.bind[1] == "-::*";
    if s.protected_mode && s.requirepass.is_none() && default_bind && !peer.ip().is_loopback() {
        srv.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.write_all(PROTECTED_MODE_ERROR).await;
        return;
    }
    let _ = stream.set_nodelay(true);
    connection::serve(srv, stream, peer).await;
}
