//! Replication, master side. Today: `SYNC`, the pre-PSYNC full synchronisation that
//! Redis still serves: a point-in-time RDB of the dataset followed by the live write
//! stream. PSYNC, the backlog and the replica side build on the same two pieces.

use tokio::sync::mpsc;

use crate::commands::{CmdResult, Ctx};

/// SYNC: snapshot and stream subscription happen under every shard lock, so the
/// stream continues exactly where the snapshot ends.
pub fn sync(ctx: &mut Ctx) -> CmdResult {
    let databases = ctx.srv.keyspace.databases();
    let rdb = crate::persistence::rdb::snapshot(&mut ctx.keys, databases, ctx.now);
    let (tx, rx) = mpsc::unbounded_channel();
    ctx.srv.journal.subscribe(tx);
    ctx.out.buf.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
    ctx.out.buf.extend_from_slice(&rdb);
    ctx.client.feed = Some(rx);
    tracing::info!("Replica {} asks for synchronization", ctx.client.shared.addr);
    tracing::info!("Synchronization with replica {} succeeded (SYNC, {} bytes)", ctx.client.shared.addr, rdb.len());
    Ok(())
}
