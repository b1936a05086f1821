//! The two output formats.
//!
//! # Text
//!
//! One line per message, in the order of the frames where messages complete:
//!
//! ```text
//! 6 [4,5,6] 2024-05-01T10:00:00.012345Z 127.0.0.2:9999 -> 127.0.0.1:50000 xor-tcp Response system.get_sysinfo err_code=0 HS110(EU) "Kitchen" response_to=3 time=0.001200 {"system":...}
//!   ! kasa.malformed.json: not a JSON object: EOF while parsing at line 1 column 10
//! ```
//!
//! A problem outside any message gets its own line starting with `!`; a connection marked by
//! discovery (TPAP) and a cloud link (a device's TLS link to TP-Link's cloud) one starting with
//! `=`, at its first frame:
//!
//! ```text
//! = 12 192.168.1.50:40000 -> 52.49.1.2:443 cloud link, frames 12..9876 (4021 frames, 1203.512 s): server n-devs.tplinkcloud.com (dns), no SNI, issuer "TP-LINK CA P1", 1 SYN, answered; push 34 records 8398 bytes, report 35 records 12000 bytes; 33 of 34 pushes answered, median 31.0 ms, max 120.4 ms
//! ```
//!
//! The last line is a summary starting with `--`. Control characters and invalid UTF-8 in the plaintext are shown as `\xNN`.
//!
//! # JSON Lines (`--json`)
//!
//! Every line is an object `{"type": T, "data": {...}}`. Types, which may grow over time:
//!
//! * `"message"`: `frame` (where it completes), `frames` (all that carried it), `timestamp`
//!   (seconds since the Unix epoch, as a number), `transport` (`xor-tcp`, `xor-udp`), `src`,
//!   `dst` (`ip:port`), `direction` (`request`/`response`), `len` (the TCP length header or
//!   null), `plaintext` (`{"text": …}` when valid UTF-8, else `{"bytes": base64}`), `info` (the
//!   Info-column summary), `method` (list of `module.method`), `err_code` (list, one per method;
//!   null where a method has none), `err_msg` (list, likewise), `context` (`source`, `child_id`
//!   list; omitted when absent), `device` (`model`, `alias`, `mac`, `id`, `sw_ver`, `hw_ver`,
//!   `type`, `generated`: false when this message carries the identity, true when it comes from
//!   an earlier answer of the same device; omitted when unknown), `response_in` (list of frames),
//!   `response_to` (frame or null), `time` (response time in seconds or null), `conversation`
//!   (index), `problems` (list of `{"expert", "severity", "text"}`).
//! * `"problem"`: a problem outside any message: `frame`, `timestamp`, `transport`, `src`,
//!   `dst`, `expert`, `severity`, `text`.
//! * KLAP, AES and TDP messages add an object under the transport's name: `klap` (`step`,
//!   `session`, `version`, `auth`, `decrypted`, the seeds and hashes of the handshake in hex,
//!   `seq`, `signature`, `signature_ok`, `ciphertext_len`), `aes` (`envelope_method`,
//!   `session`, `token` (whether present), `error_code`, `encrypted`, `decrypted`,
//!   `clear_response`, and for SslAes over HTTPS an `ssl` object: `login` (`nonce`, `digest`,
//!   `hashed`), `cnonce`, `nonce`, `auth`, `start_seq`, `seq`, `tag`, `tag_ok`), `linkie`
//!   (`version`, `field`, `b64_len`, `clear`), `tdp` (the header fields, `crc_ok`, and a reply's `encrypt_type`,
//!   `http_port`, `login_version`, `tpap`, and `encrypt_info` decrypted with `--rsa-key`).
//! * `"connection"`: a connection marked by what discovery announced (TPAP): `transport`,
//!   `src`, `dst`, `first_frame`, `last_frame`, `frames`.
//! * `"cloud"`: a cloud link (PROTOCOL.md §7): `id` (the decoder's TCP connection number),
//!   `src` (the device), `dst` (the server), `server_name` and `name_source` (`dns`,
//!   `certificate`, `sni`; null when unknown), `sni_absent` (null when no ClientHello was seen),
//!   `issuer` (the server certificate's issuer CN), `first_frame`, `last_frame`,
//!   `identified_frame`, `frames`, `duration` (seconds), `syn_attempts`, `answered`, `ended`,
//!   `tcp_bytes`, `records` and `bytes` (each `{"push": n, "report": n}`; push = server →
//!   device), `pushes` (list of `{"frame", "answer_frame", "latency"}`, at most 4096, latency in
//!   seconds or null), `latency` (`{"count", "median", "max"}` in seconds over the answered
//!   pushes, or null).
//! * `"summary"`: `frames`, `messages`, `requests`, `responses`, `connections`, `udp_flows`,
//!   `devices`, `malformed`.
//!
//! Keys reuse the display-filter names of the Wireshark plugin without `kasa.`.

use base64::Engine;
use kasa_decoder::capture::{Decoded, Marked, Orphan};
use kasa_decoder::conv::CloudLink;
use kasa_decoder::msg::{Device, KlapStep, Message, Meta, Problem, Severity, TpapStep};
use serde_json::{Value, json};
use std::io::{self, Write};
use std::time::Duration;

enum Item<'a> {
    Message(&'a Message),
    Orphan(&'a Orphan),
    Marked(&'a Marked),
    Cloud(&'a CloudLink),
}

pub fn print(
    out: &mut impl Write,
    decoded: &Decoded,
    as_json: bool,
    method: Option<&str>,
) -> io::Result<()> {
    let wanted = |m: &Message| {
        method.is_none_or(|want| {
            m.body
                .methods
                .iter()
                .any(|x| x.name() == want || x.method() == Some(want))
        })
    };
    // Merge messages and orphan problems by frame.
    let mut items: Vec<(u64, Item<'_>)> = decoded
        .messages
        .iter()
        .filter(|m| wanted(m))
        .map(|m| (m.frame(), Item::Message(m)))
        .collect();
    if method.is_none() {
        items.extend(decoded.orphans.iter().map(|o| (o.frame, Item::Orphan(o))));
        items.extend(
            decoded
                .marked
                .iter()
                .map(|c| (c.first_frame, Item::Marked(c))),
        );
        items.extend(
            decoded
                .cloud
                .iter()
                .map(|c| (c.first_frame, Item::Cloud(c))),
        );
    }
    items.sort_by_key(|(frame, _)| *frame);
    for (_, item) in items {
        match (item, as_json) {
            (Item::Message(m), false) => text_message(out, m)?,
            (Item::Message(m), true) => json_line(out, "message", message_json(m))?,
            (Item::Orphan(o), false) => writeln!(
                out,
                "! {} {} {} -> {} {} {}: {}",
                o.frame,
                timestamp(o.time),
                o.src,
                o.dst,
                o.transport,
                o.problem.expert(),
                o.problem
            )?,
            (Item::Marked(c), false) => writeln!(
                out,
                "= {} {} -> {} {} connection, frames {}..{} ({} frames): TLS to an endpoint a TDP reply announced; not decodable passively",
                c.first_frame,
                c.client,
                c.device,
                c.transport,
                c.first_frame,
                c.last_frame,
                c.frames
            )?,
            (Item::Marked(c), true) => json_line(
                out,
                "connection",
                json!({
                    "transport": c.transport.as_str(),
                    "src": c.client.to_string(),
                    "dst": c.device.to_string(),
                    "first_frame": c.first_frame,
                    "last_frame": c.last_frame,
                    "frames": c.frames,
                }),
            )?,
            (Item::Cloud(c), false) => writeln!(out, "{}", cloud_text(c))?,
            (Item::Cloud(c), true) => json_line(out, "cloud", cloud_json(c))?,
            (Item::Orphan(o), true) => json_line(
                out,
                "problem",
                json!({
                    "frame": o.frame,
                    "timestamp": o.time.as_secs_f64(),
                    "transport": o.transport.as_str(),
                    "src": o.src.to_string(),
                    "dst": o.dst.to_string(),
                    "expert": o.problem.expert(),
                    "severity": severity(o.problem.severity()),
                    "text": o.problem.to_string(),
                }),
            )?,
        }
    }
    let s = &decoded.stats;
    if as_json {
        json_line(
            out,
            "summary",
            json!({
                "frames": s.frames,
                "messages": s.messages,
                "requests": s.requests,
                "responses": s.responses,
                "connections": s.connections,
                "udp_flows": s.udp_flows,
                "devices": s.devices,
                "malformed": s.malformed,
            }),
        )
    } else {
        writeln!(
            out,
            "-- {} messages ({} requests, {} responses) in {} TCP connections and {} UDP flows; {} devices; {} malformed; {} frames",
            s.messages,
            s.requests,
            s.responses,
            s.connections,
            s.udp_flows,
            s.devices,
            s.malformed,
            s.frames
        )
    }
}

/// The text line of a cloud link (see the module docs).
fn cloud_text(c: &CloudLink) -> String {
    let mut parts = Vec::new();
    parts.push(match (&c.server_name, c.name_source) {
        (Some(n), Some(s)) => format!("server {n} ({})", s.as_str()),
        (Some(n), None) => format!("server {n}"),
        _ => "server name unknown".to_owned(),
    });
    parts.push(
        match c.sni_absent {
            Some(true) => "no SNI",
            Some(false) => "SNI",
            None => "no ClientHello seen",
        }
        .to_owned(),
    );
    parts.push(match &c.issuer {
        Some(i) => {
            let mut q = String::new();
            let _ = kasa_decoder::msg::write_quoted(&mut q, i);
            format!("issuer {q}")
        }
        None => "issuer unknown".to_owned(),
    });
    let syns = match c.syn_attempts {
        0 => "no SYN seen".to_owned(),
        1 => "1 SYN".to_owned(),
        n => format!("{n} SYNs"),
    };
    let answered = if c.answered {
        "answered"
    } else {
        "never answered"
    };
    parts.push(format!("{syns}, {answered}"));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pushes = match c.latency() {
        Some(l) => format!(
            "{} of {} pushes answered, median {:.1} ms, max {:.1} ms",
            l.count,
            c.records[0],
            ms(l.median),
            ms(l.max)
        ),
        None if c.records[0] > 0 => format!("none of {} pushes answered", c.records[0]),
        None => "no pushes".to_owned(),
    };
    format!(
        "= {} {} -> {} cloud link, frames {}..{} ({} frames, {:.3} s): {}; push {} records {} bytes, report {} records {} bytes; {}",
        c.first_frame,
        c.client,
        c.server,
        c.first_frame,
        c.last_frame,
        c.frames,
        c.duration().as_secs_f64(),
        parts.join(", "),
        c.records[0],
        c.bytes[0],
        c.records[1],
        c.bytes[1],
        pushes
    )
}

fn cloud_json(c: &CloudLink) -> Value {
    let by_role = |v: [u64; 2]| json!({ "push": v[0], "report": v[1] });
    json!({
        "id": c.id.0,
        "src": c.client.to_string(),
        "dst": c.server.to_string(),
        "server_name": c.server_name,
        "name_source": c.name_source.map(|s| s.as_str()),
        "sni_absent": c.sni_absent,
        "issuer": c.issuer,
        "first_frame": c.first_frame,
        "last_frame": c.last_frame,
        "identified_frame": c.identified_frame,
        "frames": c.frames,
        "duration": c.duration().as_secs_f64(),
        "syn_attempts": c.syn_attempts,
        "answered": c.answered,
        "ended": c.ended,
        "tcp_bytes": by_role(c.tcp_bytes),
        "records": by_role(c.records),
        "bytes": by_role(c.bytes),
        "pushes": c.pushes.iter().map(|p| json!({
            "frame": p.frame,
            "answer_frame": p.answer.map(|a| a.0),
            "latency": p.answer.map(|a| a.1.as_secs_f64()),
        })).collect::<Vec<_>>(),
        "latency": c.latency().map(|l| json!({
            "count": l.count,
            "median": l.median.as_secs_f64(),
            "max": l.max.as_secs_f64(),
        })),
    })
}

fn json_line(out: &mut impl Write, kind: &str, data: Value) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &json!({"type": kind, "data": data}))?;
    out.write_all(b"\n")
}

fn text_message(out: &mut impl Write, m: &Message) -> io::Result<()> {
    let frames: Vec<String> = m.frames.iter().map(u64::to_string).collect();
    write!(
        out,
        "{} [{}] {} {} -> {} {} {}",
        m.frame(),
        frames.join(","),
        timestamp(m.time),
        m.src,
        m.dst,
        m.transport(),
        m
    )?;
    if m.body.device.is_none()
        && let Some(dev) = &m.peer_device
    {
        write!(out, " ({})", device_label(dev))?;
    }
    for f in &m.pairing.response_in {
        write!(out, " response_in={f}")?;
    }
    if let Some(f) = m.pairing.response_to {
        write!(out, " response_to={f}")?;
    }
    if let Some(t) = m.pairing.time {
        write!(out, " time={:.6}", t.as_secs_f64())?;
    }
    writeln!(out, " {}", escaped(&m.plaintext))?;
    for p in &m.problems {
        writeln!(out, "  ! {}: {p}", p.expert())?;
    }
    Ok(())
}

fn device_label(d: &Device) -> String {
    let mut parts = Vec::new();
    if let Some(m) = &d.model {
        parts.push(m.clone());
    }
    if let Some(a) = &d.alias {
        let mut q = String::new();
        let _ = kasa_decoder::msg::write_quoted(&mut q, a);
        parts.push(q);
    }
    parts.join(" ")
}

fn message_json(m: &Message) -> Value {
    let plaintext = match m.text() {
        Some(t) => json!({ "text": t }),
        None => json!({ "bytes": base64::engine::general_purpose::STANDARD.encode(&m.plaintext) }),
    };
    let mut data = json!({
        "frame": m.frame(),
        "frames": m.frames,
        "timestamp": m.time.as_secs_f64(),
        "transport": m.transport().as_str(),
        "src": m.src.to_string(),
        "dst": m.dst.to_string(),
        "direction": m.direction.as_str(),
        "len": m.meta.len_header(),
        "plaintext": plaintext,
        "info": m.summary(),
        "method": m.body.methods.iter().map(|x| x.name()).collect::<Vec<_>>(),
        "err_code": m.body.methods.iter().map(|x| x.err_code).collect::<Vec<_>>(),
        "err_msg": m.body.methods.iter().map(|x| x.err_msg.clone()).collect::<Vec<_>>(),
        "response_in": m.pairing.response_in,
        "response_to": m.pairing.response_to,
        "time": m.pairing.time.map(|t| t.as_secs_f64()),
        "conversation": m.conversation,
        "problems": m.problems.iter().map(problem_json).collect::<Vec<_>>(),
    });
    if !m.body.context.is_empty() {
        data["context"] =
            json!({ "source": m.body.context.source, "child_id": m.body.context.child_ids });
    }
    let device = match (&m.body.device, &m.peer_device) {
        (Some(d), _) => Some((d, false)),
        (None, Some(d)) => Some((&**d, true)),
        _ => None,
    };
    if let Some(t) = transport_json(&m.meta) {
        data[m.transport().as_str()] = t;
    }
    if let Some((d, generated)) = device {
        data["device"] = json!({
            "model": d.model, "alias": d.alias, "mac": d.mac, "id": d.device_id,
            "sw_ver": d.sw_ver, "hw_ver": d.hw_ver, "type": d.kind, "generated": generated,
        });
    }
    data
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What the transport said, under the transport's name (`tdp`, `klap`, `aes`, `linkie`).
fn transport_json(meta: &Meta) -> Option<Value> {
    Some(match meta {
        Meta::XorTcp { .. } | Meta::XorUdp => return None,
        Meta::Cloud {
            framing,
            len_header,
        } => json!({ "framing": framing.as_str(), "len_header": len_header }),
        Meta::Tdp(t) => {
            let mut v = json!({ "crc_ok": t.crc_ok });
            if let Some(h) = &t.header {
                v["version"] = json!(h.version);
                v["msg_type"] = json!(h.msg_type);
                v["op_code"] = json!(h.op_code);
                v["size"] = json!(h.size);
                v["flags"] = json!(h.flags);
                v["serial"] = json!(h.serial);
                v["crc"] = json!(h.crc);
            }
            match &t.encrypt_info {
                Some(Ok(p)) => v["encrypt_info"] = json!(String::from_utf8_lossy(p)),
                Some(Err(e)) => v["encrypt_info_error"] = json!(e.to_string()),
                None => {}
            }
            if let Some(d) = &t.discovery {
                v["encrypt_type"] = json!(d.encrypt_type);
                v["http_port"] = json!(d.http_port);
                v["login_version"] = json!(d.login_version);
                if let Some(tp) = &d.tpap {
                    v["tpap"] = json!({
                        "port": tp.port, "tls": tp.tls, "pake": tp.pake, "dac": tp.dac,
                        "noc": tp.noc, "user_hash_type": tp.user_hash_type,
                    });
                }
            }
            v
        }
        Meta::Klap(k) => {
            let mut v = json!({
                "step": k.step.name(),
                "session": k.session,
                "version": k.version.map(|v| v.number()),
                "auth": k.auth,
                "decrypted": k.decrypted,
            });
            match &k.step {
                KlapStep::Handshake1 { local_seed } => v["local_seed"] = json!(hex(local_seed)),
                KlapStep::Handshake1Reply {
                    remote_seed,
                    server_hash,
                } => {
                    v["remote_seed"] = json!(hex(remote_seed));
                    v["server_hash"] = json!(hex(server_hash));
                }
                KlapStep::Handshake2 {
                    client_hash,
                    verified,
                } => {
                    v["client_hash"] = json!(hex(client_hash));
                    v["client_hash_ok"] = json!(verified);
                }
                KlapStep::Request {
                    seq,
                    signature,
                    signature_ok,
                    ciphertext_len,
                }
                | KlapStep::Response {
                    seq,
                    signature,
                    signature_ok,
                    ciphertext_len,
                } => {
                    v["seq"] = json!(seq);
                    v["signature"] = json!(hex(signature));
                    v["signature_ok"] = json!(signature_ok);
                    v["ciphertext_len"] = json!(ciphertext_len);
                }
            }
            v
        }
        Meta::Tpap(t) => json!({
            "step": match t.step {
                TpapStep::Login => "login",
                TpapStep::Data => "data",
            },
            "sub_method": t.sub_method,
            "seq": t.seq,
            "data_len": t.data_len,
        }),
        Meta::Aes(a) => {
            let mut v = json!({
                "envelope_method": a.method.map(|m| m.as_str()),
                "session": a.session,
                "token": a.token.is_some(),
                "error_code": a.error_code,
                "encrypted": a.encrypted,
                "decrypted": a.decrypted,
                "clear_response": a.clear_response,
            });
            if let Some(ssl) = &a.ssl {
                v["ssl"] = json!({
                    "login": ssl.login.map(|l| l.as_str()),
                    "cnonce": ssl.cnonce,
                    "nonce": ssl.nonce,
                    "auth": ssl.auth,
                    "start_seq": ssl.start_seq,
                    "seq": ssl.seq,
                    "tag": ssl.tag,
                    "tag_ok": ssl.tag_ok,
                });
            }
            v
        }
        Meta::Linkie(l) => json!({
            "version": l.version,
            "field": l.field.as_ref().map(|(name, _)| name),
            "b64_len": l.b64_len,
            "clear": l.clear,
        }),
    })
}

fn problem_json(p: &Problem) -> Value {
    json!({ "expert": p.expert(), "severity": severity(p.severity()), "text": p.to_string() })
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Note => "note",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

/// Text as it is, with control characters and invalid UTF-8 bytes as `\xNN`.
fn escaped(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                s.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                s.push(c);
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// UTC date and time with microseconds.
fn timestamp(t: Duration) -> String {
    let secs = t.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        t.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(Duration::ZERO), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            timestamp(Duration::new(1_714_557_600, 12_345_000)),
            "2024-05-01T10:00:00.012345Z"
        );
        assert_eq!(
            timestamp(Duration::new(951_782_400, 0)),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn escaping_is_lossless_and_keeps_unicode() {
        assert_eq!(escaped("Küche ☃\n".as_bytes()), "Küche ☃\\x0a");
        assert_eq!(escaped(b"a\xffb"), "a\\xffb");
    }
}
