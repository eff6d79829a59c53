//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{CmdResult, Ctx};
use crate::net::client::Client;
use crate::net::outbox::{Limits, Outbox};
use crate::pubsub::Kind;

const KINDS: [Kind; 3] = [Kind::Channel, Kind::Pattern, Kind::Shard];

fn idx(kind: Kind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap()
}

/// What a subscription reply counts: channels plus patterns, or shard channels.
fn count(client: &Client, kind: Kind) -> usize {
    match kind {
        Kind::Shard => client.subscriptions[2].len(),
        _ => client.subscriptions[0].len() + client.subscriptions[1].len(),
    }
}

/// Whether the client has any subscription (RESP2 then limits what it may run).
pub fn subscribed(client: &Client) -> bool {
    client.subscriptions.iter().any(|s| !s.is_empty())
}

/// The handle publishers use for this client, created with its message queue on the
/// first subscription (the connection drains the queue onto the socket).
fn subscriber(ctx: &mut Ctx) -> Arc<Outbox> {
    if let Some(s) = &ctx.client.subscriber {
        return s.clone();
    }
    let s = Arc::new(Outbox::new(ctx.client.shared.clone()));
    ctx.client.subscriber = Some(s.clone());
    s
}

fn confirm(ctx: &mut Ctx, what: &[u8], name: Option<&[u8]>, n: usize) {
    if ctx.out.resp3 {
        ctx.out.push(3);
    } else {
        ctx.out.array(3);
    }
    ctx.out.bulk(what);
    match name {
        Some(c) => ctx.out.bulk(c),
        None => ctx.out.null(),
    }
    ctx.out.int(n as i64);
}

fn update_counts(client: &Client) {
    for (i, k) in KINDS.iter().enumerate() {
        client.shared.subs[idx(*k)].store(client.subscriptions[i].len(), Ordering::Relaxed);
    }
}

fn subscribe_kind(ctx: &mut Ctx, kind: Kind, what: &[u8]) -> CmdResult {
    let sub = subscriber(ctx);
    for i in 1..ctx.args.len() {
        let name = ctx.args[i];
        if ctx.srv.pubsub.subscribe(kind, name, &sub) {
            ctx.client.subscriptions[idx(kind)].push(name.to_vec());
        }
        let n = count(ctx.client, kind);
        confirm(ctx, what, Some(name), n);
    }
    update_counts(ctx.client);
    Ok(())
}

fn unsubscribe_kind(ctx: &mut Ctx, kind: Kind, what: &[u8]) -> CmdResult {
    let names: Vec<Vec<u8>> =
        if ctx.args.len() > 1 { ctx.args[1..].iter().map(|a| a.to_vec()).collect() } else { ctx.client.subscriptions[idx(kind)].clone() };
    if names.is_empty() {
        let n = count(ctx.client, kind);
        confirm(ctx, what, None, n);
    }
    for name in names {
        ctx.srv.pubsub.unsubscribe(kind, &name, ctx.client.shared.id);
        ctx.client.subscriptions[idx(kind)].retain(|c| *c != name);
        let n = count(ctx.client, kind);
        confirm(ctx, what, Some(&name), n);
    }
    update_counts(ctx.client);
    Ok(())
}

pub fn subscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe_kind(ctx, Kind::Channel, b"subscribe")
}

pub fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe_kind(ctx, Kind::Pattern, b"psubscribe")
}

pub fn ssubscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe_kind(ctx, Kind::Shard, b"ssubscribe")
}

pub fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_kind(ctx, Kind::Channel, b"unsubscribe")
}

pub fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_kind(ctx, Kind::Pattern, b"punsubscribe")
}

pub fn sunsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_kind(ctx, Kind::Shard, b"sunsubscribe")
}

/// Drops every subscription of a client (RESET, disconnect).
pub fn forget(srv: &crate::server::Server, client: &mut Client) {
    for (i, kind) in KINDS.iter().enumerate() {
        for name in std::mem::take(&mut client.subscriptions[i]) {
            srv.pubsub.unsubscribe(*kind, &name, client.shared.id);
        }
    }
    update_counts(client);
}

fn publish_kind(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let limits = pubsub_limits(ctx);
    let id = ctx.client.shared.id;
    let mut own = ferrokv_protocol::ReplyBuf { buf: Vec::new(), resp3: false };
    let n = ctx.srv.pubsub.publish(kind, ctx.args[1], ctx.args[2], limits, (id, &mut own));
    // What we receive ourselves follows the reply (after EXEC's whole reply), as in Redis 7.2.
    crate::notify::defer_own(&own.buf);
    ctx.propagate_as_is();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn publish(ctx: &mut Ctx) -> CmdResult {
    publish_kind(ctx, Kind::Channel)
}

pub fn spublish(ctx: &mut Ctx) -> CmdResult {
    publish_kind(ctx, Kind::Shard)
}

/// The `pubsub` class of `client-output-buffer-limit`.
fn pubsub_limits(ctx: &Ctx) -> Limits {
    limits_of(&ctx.client.settings)
}

pub fn limits_of(s: &crate::config::Settings) -> Limits {
    Limits::of(s.pubsub_obuf_limit)
}

fn names_reply(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let pattern = ctx.args.get(2).copied();
    let names = ctx.srv.pubsub.names(kind, pattern);
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(&n);
    }
    Ok(())
}

fn numsub_reply(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let n = ctx.args.len() - 2;
    if ctx.out.resp3 {
        ctx.out.map(n);
    } else {
        ctx.out.array(2 * n);
    }
    for i in 2..ctx.args.len() {
        let c = ctx.srv.pubsub.count(kind, ctx.args[i]);
        ctx.out.bulk(ctx.args[i]);
        ctx.out.int(c as i64);
    }
    Ok(())
}

pub fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    names_reply(ctx, Kind::Channel)
}

pub fn pubsub_shardchannels(ctx: &mut Ctx) -> CmdResult {
    names_reply(ctx, Kind::Shard)
}

pub fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    numsub_reply(ctx, Kind::Channel)
}

pub fn pubsub_shardnumsub(ctx: &mut Ctx) -> CmdResult {
    numsub_reply(ctx, Kind::Shard)
}

pub fn pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.srv.pubsub.patterns() as i64);
    Ok(())
}

pub fn pubsub_help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}
