//! Persistence in Redis's own formats: the RDB writer (snapshots, DUMP), the loader
//! (start-up, DEBUG RELOAD, RESTORE) and the embedded compact formats both use.

pub mod aof;
pub mod aof_scan;
pub mod listpack;
pub mod load;
pub mod lzf;
pub mod manifest;
pub mod rdb;
pub mod snapshot;
pub mod ziplist;

use crate::server::Server;

/// Why writes (and PING) are refused, as Redis's `writeCommandsDeniedByDiskError`: the
/// last background save failed (with `stop-writes-on-bgsave-error` and save points),
/// or the AOF could not be written or fsynced (until a retry succeeds).
pub enum DiskError {
    Rdb,
    /// The errno of the failed AOF write or fsync.
    Aof(i32),
}

pub const RDB_MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

pub fn disk_error(srv: &Server, settings: &crate::config::Settings) -> Option<DiskError> {
    if snapshot::bgsave_failed(srv, settings) {
        return Some(DiskError::Rdb);
    }
    if !srv.aof.enabled.load(std::sync::atomic::Ordering::Acquire) {
        return None;
    }
    srv.aof.write_error().map(DiskError::Aof)
}

impl DiskError {
    /// The error reply, without its '-'.
    pub fn message(&self) -> std::borrow::Cow<'static, str> {
        match self {
            DiskError::Rdb => RDB_MISCONF.into(),
            DiskError::Aof(errno) => {
                let text = crate::util::strerror(&std::io::Error::from_raw_os_error(*errno));
                format!("MISCONF Errors writing to the AOF file: {text}").into()
            }
        }
    }
}

/// What SHUTDOWN (or a signal) does with the dataset before exiting.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FinalSave {
    /// Save when save points are configured (the default, and SIGTERM).
    Default,
    Save,
    NoSave,
}

/// Redis's prepareForShutdown: the AOF is flushed and fsynced, then the final RDB is
/// written when asked or when save points exist. An error stops the shutdown.
pub fn prepare_shutdown(srv: &Server, mode: FinalSave) -> Result<(), String> {
    srv.journal.distribute();
    let settings = srv.config.settings();
    if let Some(job) = srv.rdb.running() {
        if job == snapshot::Job::Bgsave {
            tracing::warn!("There is a child saving an .rdb. Killing it!");
            srv.rdb.cancel_bgsave();
        }
    }
    // A cancelled BGSAVE or a running rewrite must end before the final save starts.
    srv.rdb.wait_idle();
    aof::flush_and_sync(srv);
    if mode == FinalSave::Save || (mode == FinalSave::Default && !settings.save_points.is_empty()) {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if let Err(e) = snapshot::save(srv, true) {
            tracing::warn!("Error trying to save the DB, can't exit. ({e})");
            return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
        }
    }
    Ok(())
}

/// INFO persistence, with Redis 7.2's fields in its order.
pub fn info(srv: &Server) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let r = &srv.rdb;
    let job = r.running();
    let (elapsed, done, total) = r.progress();
    let bgsave = matches!(job, Some(snapshot::Job::Bgsave));
    format!(
        "loading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:{:.2}\r\ncurrent_save_keys_processed:{done}\r\ncurrent_save_keys_total:{total}\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\n{}module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        if total > 0 { done as f64 * 100.0 / total as f64 } else { 0.0 },
        srv.dirty.load(Relaxed),
        bgsave as u8,
        srv.lastsave.load(Relaxed),
        if r.last_ok.load(Relaxed) { "ok" } else { "err" },
        r.last_time_sec.load(Relaxed),
        if bgsave { elapsed } else { -1 },
        r.saves.load(Relaxed),
        aof_info(srv),
    )
}

fn aof_info(srv: &Server) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let a = &srv.aof;
    let rewriting = srv.rdb.running() == Some(snapshot::Job::AofRewrite);
    let enabled = a.enabled.load(Relaxed);
    let mut s = format!(
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\n",
        enabled as u8,
        rewriting as u8,
        a.scheduled.load(Relaxed) as u8,
        a.last_rewrite_time_sec.load(Relaxed),
        if rewriting { srv.rdb.progress().0 } else { -1 },
        if a.last_rewrite_ok.load(Relaxed) { "ok" } else { "err" },
        a.rewrites.load(Relaxed),
        a.consecutive_failures.load(Relaxed),
        if a.last_write_ok.load(Relaxed) { "ok" } else { "err" },
    );
    if enabled {
        s.push_str(&format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
            a.current_size.load(Relaxed),
            a.base_size.load(Relaxed),
            srv.journal.aof_pending()
        ));
    }
    s
}
