//! The one table of everything the plugin registers: header fields, subtrees, expert infos.
//! The README's field table is this table.

use crate::epan::{Ei, Ett, ExpertDef, FieldDef, Group, Hf, Kind, Level};
use core::ffi::CStr;
use kasa_decoder::audit;
use kasa_decoder::msg::{Problem, Transport};

macro_rules! fields {
    ($( $id:ident => ($name:literal, $abbrev:literal, $kind:ident $(($($arg:tt)*))?, $blurb:literal) ),* $(,)?) => {
        $( pub static $id: Hf = Hf::new(); )*
        /// Every header field, in registration order.
        pub static FIELDS: &[FieldDef] = &[
            $( FieldDef { id: &$id, name: $name, abbrev: $abbrev, kind: Kind::$kind $(($($arg)*))?, blurb: $blurb } ),*
        ];
    };
}

macro_rules! subtrees {
    ($( $id:ident ),* $(,)?) => {
        $( pub static $id: Ett = Ett::new(); )*
        /// Every subtree; all registered in `register_protoinfo` (an unregistered one crashes the GUI).
        pub static SUBTREES: &[&Ett] = &[ $( &$id ),* ];
    };
}

macro_rules! experts {
    ($( $id:ident => ($abbrev:literal, $group:ident, $level:ident, $summary:literal) ),* $(,)?) => {
        $( pub static $id: Ei = Ei::new(); )*
        /// Every expert info.
        pub static EXPERTS: &[ExpertDef] = &[
            $( ExpertDef { id: &$id, abbrev: $abbrev, group: Group::$group, level: Level::$level, summary: $summary } ),*
        ];
    };
}

fields! {
    TRANSPORT     => (c"Transport", c"kasa.transport", String, c"How the message travelled: xor-tcp, xor-udp, tdp, klap, aes (SslAes too), linkie, cloud (tpap and cloud also mark connections); shown in words (XOR over TCP, ...)."),
    LEN           => (c"Length", c"kasa.len", U32, c"The TCP length header: ciphertext bytes that follow it."),
    PLAINTEXT     => (c"Plaintext", c"kasa.plaintext", String, c"The whole decrypted text: UTF-8 as it is, invalid sequences as U+FFFD, NUL as U+2400."),
    DATA          => (c"Undecoded data", c"kasa.data", Bytes, c"XOR bytes that decrypt to neither JSON nor text (a random datagram to the port): shown as they are, in place of a plaintext."),
    REQUEST       => (c"Direction", c"kasa.request", Flag(c"Request (to the device)", c"Response (from the device)"), c"The message goes to the device."),
    RESPONSE      => (c"Direction", c"kasa.response", Flag(c"Response (from the device)", c"Request (to the device)"), c"The message comes from the device."),
    METHOD        => (c"Method", c"kasa.method", String, c"module.method (IOT JSON) or the method name (SMART JSON-RPC), one per method in the message."),
    ERR_CODE      => (c"Error code", c"kasa.err_code", I32, c"err_code (IOT) or error_code (SMART) of a method result, one per result."),
    ERR_MSG       => (c"Error message", c"kasa.err_msg", String, c"err_msg (IOT) or msg (SMART) of a method result."),
    RESPONSE_IN   => (c"Response in frame", c"kasa.response_in", FrameResponse, c"The response to this request is in this frame."),
    RESPONSE_TO   => (c"Request in frame", c"kasa.response_to", FrameRequest, c"This is a response to the request in this frame."),
    TIME          => (c"Response Time", c"kasa.time", RelativeTime, c"Time from the request to this response."),
    DUPLICATE     => (c"Copy of frame", c"kasa.duplicate", FrameOriginal, c"This datagram is a copy of the one in this frame (the same bytes between the same endpoints within 5 ms: a mirror port, an any-interface capture); a copy is not paired."),
    DEVICE_MODEL  => (c"Model", c"kasa.device.model", String, c"Device model, from a get_sysinfo (IOT) or get_device_info (SMART) answer."),
    DEVICE_ALIAS  => (c"Alias", c"kasa.device.alias", String, c"Device name given by its owner (IOT alias, SMART nickname decoded from base64)."),
    DEVICE_MAC    => (c"MAC", c"kasa.device.mac", String, c"Device MAC address as the device reports it."),
    DEVICE_ID     => (c"Device ID", c"kasa.device.id", String, c"deviceId (IOT) or device_id (SMART)."),
    DEVICE_SW_VER => (c"Software version", c"kasa.device.sw_ver", String, c"sw_ver (IOT) or fw_ver (SMART)."),
    DEVICE_HW_VER => (c"Hardware version", c"kasa.device.hw_ver", String, c"hw_ver, from the device's own answer."),
    DEVICE_TYPE   => (c"Device type", c"kasa.device.type", String, c"type or mic_type (IOT), type or device_type (SMART)."),
    CONTEXT_SOURCE => (c"Context source", c"kasa.context.source", String, c"context.source: the app's session id."),
    CONTEXT_CHILD_ID => (c"Context child id", c"kasa.context.child_id", String, c"context.child_ids: outlets addressed."),
    TDP_VERSION   => (c"Version", c"kasa.tdp.version", U32, c"TDP header: version (2)."),
    TDP_MSG_TYPE  => (c"Message type", c"kasa.tdp.msg_type", U32, c"TDP header: message type."),
    TDP_OP_CODE   => (c"Op code", c"kasa.tdp.op_code", Hex32, c"TDP header: op code (0x0001 = probe)."),
    TDP_SIZE      => (c"Size", c"kasa.tdp.size", U32, c"TDP header: length of the JSON body."),
    TDP_FLAGS     => (c"Flags", c"kasa.tdp.flags", Hex32, c"TDP header: flags (probes 0x11 or 0x00, replies 0x02, 0x00, 0x22)."),
    TDP_SERIAL    => (c"Serial", c"kasa.tdp.serial", Hex32, c"TDP header: random per probe, echoed by the reply."),
    TDP_CRC       => (c"CRC", c"kasa.tdp.crc", Hex32, c"TDP header: CRC-32 of the datagram with 5a6b7c8d in its place."),
    TDP_CRC_STATUS => (c"CRC status", c"kasa.tdp.crc.status", ChecksumStatus, c"Whether the TDP CRC verifies."),
    TDP_ENCRYPT_TYPE => (c"Encryption type", c"kasa.tdp.encrypt_type", String, c"mgt_encrypt_schm.encrypt_type of a reply: KLAP, AES or TPAP."),
    TDP_HTTP_PORT => (c"HTTP port", c"kasa.tdp.http_port", U32, c"mgt_encrypt_schm.http_port: the device's KLAP/AES port."),
    TDP_LOGIN_VERSION => (c"Login version", c"kasa.tdp.login_version", U32, c"mgt_encrypt_schm.lv (2: KLAP v2 hashes, AES password2)."),
    TDP_ENCRYPT_INFO => (c"Encrypted info (decrypted)", c"kasa.tdp.encrypt_info", String, c"A reply's encrypt_info, decrypted with the probe's RSA private key (kasa.rsa_private_key)."),
    TDP_TPAP_PORT => (c"TPAP port", c"kasa.tdp.tpap.port", U32, c"tpap.port: where the device speaks TPAP (TLS)."),
    TDP_TPAP_TLS  => (c"TPAP TLS", c"kasa.tdp.tpap.tls", U32, c"tpap.tls: 0 none, 1 server-only, 2 mutual."),
    TDP_TPAP_PAKE => (c"TPAP PAKE", c"kasa.tdp.tpap.pake", U32, c"tpap.pake entries: 0 default, 2 user, 3 token."),
    TDP_TPAP_DAC  => (c"TPAP DAC", c"kasa.tdp.tpap.dac", Bool, c"tpap.dac."),
    TDP_TPAP_NOC  => (c"TPAP NOC", c"kasa.tdp.tpap.noc", Bool, c"tpap.noc."),
    TDP_TPAP_USER_HASH => (c"TPAP user hash type", c"kasa.tdp.tpap.user_hash_type", U32, c"tpap.user_hash_type."),
    KLAP_LOCAL_SEED => (c"Local seed", c"kasa.klap.local_seed", Bytes, c"handshake1: the client's 16 random bytes."),
    KLAP_REMOTE_SEED => (c"Remote seed", c"kasa.klap.remote_seed", Bytes, c"handshake1 reply: the device's 16 random bytes."),
    KLAP_SERVER_HASH => (c"Server hash", c"kasa.klap.server_hash", Bytes, c"handshake1 reply: proves the device knows the account."),
    KLAP_CLIENT_HASH => (c"Client hash", c"kasa.klap.client_hash", Bytes, c"handshake2: proves the client knows the account."),
    KLAP_SEQ      => (c"Sequence number", c"kasa.klap.seq", I32, c"The seq of a request (from its URI) and of its response."),
    KLAP_SIGNATURE => (c"Signature", c"kasa.klap.signature", Bytes, c"SHA-256 signature over the seq and the ciphertext."),
    KLAP_SIGNATURE_STATUS => (c"Signature status", c"kasa.klap.signature.status", ChecksumStatus, c"Whether the signature verifies with the session's keys."),
    KLAP_CIPHERTEXT => (c"Ciphertext", c"kasa.klap.ciphertext", Bytes, c"AES-128-CBC ciphertext after the signature."),
    KLAP_VERSION  => (c"KLAP version", c"kasa.klap.version", U32, c"1 (MD5 auth hash) or 2 (SHA-256), from the matching credential."),
    KLAP_AUTH     => (c"Authenticated as", c"kasa.klap.auth", String, c"Which credential matched the handshake: the user name, or default:… for a known default account."),
    KLAP_SESSION  => (c"Session", c"kasa.klap.session", String, c"The TP_SESSIONID cookie."),
    TPAP_SUB_METHOD => (c"Login step", c"kasa.tpap.sub_method", String, c"A TPAP login step (params.sub_method: discover, pake_register, pake_share), seen when Wireshark decrypted the TLS."),
    TPAP_SEQ      => (c"Sequence number", c"kasa.tpap.seq", I32, c"A TPAP data frame's sequence number: the pake_share answer's start_seq plus the frames before it."),
    TPAP_DATA     => (c"Data", c"kasa.tpap.data", Bytes, c"A TPAP data frame's AEAD ciphertext (not decryptable passively)."),
    AES_METHOD    => (c"Envelope method", c"kasa.aes.method", String, c"handshake, securePassthrough or login_device."),
    AES_SESSION   => (c"Session", c"kasa.aes.session", String, c"The TP_SESSIONID (or SESSIONID) cookie."),
    AES_TOKEN     => (c"Token present", c"kasa.aes.token", Bool, c"The request URI carries the login token."),
    AES_ERROR_CODE => (c"Envelope error code", c"kasa.aes.error_code", I32, c"The outer error_code of a response."),
    AES_ENCRYPTED => (c"Encrypted", c"kasa.aes.encrypted", Bool, c"The envelope carries AES ciphertext."),
    AES_CLEAR     => (c"Clear response", c"kasa.aes.clear_response", Bool, c"result.response is clear JSON (some firmware), not ciphertext."),
    CLOUD         => (c"Cloud link", c"kasa.cloud", String, c"On every frame of a device's connection to the TP-Link cloud (TCP 50443, or 443 to a *.tplinkcloud.com server): the server's name (from DNS or its certificate), else its address."),
    CLOUD_NAME_SOURCE => (c"Server name from", c"kasa.cloud.name_source", String, c"Where the server name comes from: dns (an answer earlier in the capture), certificate (its subject) or sni."),
    CLOUD_SERVER  => (c"Server", c"kasa.cloud.server", String, c"The cloud end of the connection (address:port)."),
    CLOUD_DEVICE  => (c"Device", c"kasa.cloud.device", String, c"The device end of the connection (address:port): the side that opened it."),
    CLOUD_SNI_ABSENT => (c"No SNI", c"kasa.cloud.sni_absent", Bool, c"The device's ClientHello carries no server name (a fingerprint of Kasa plugs)."),
    CLOUD_ISSUER  => (c"Certificate issuer", c"kasa.cloud.issuer", String, c"The server certificate chain names TP-Link's private CA (TP-LINK CA P1 / tp-link-CA)."),
    CLOUD_ANSWERED => (c"Answered", c"kasa.cloud.answered", Bool, c"Whether the server ever answered the device's connection attempt (false: SYNs unanswered, e.g. a firewall)."),
    CLOUD_DIRECTION => (c"Record role", c"kasa.cloud.direction", String, c"Role of each TLS application-data record: push (cloud to device, opens an exchange) or report (device to cloud)."),
    CLOUD_FRAMING => (c"Framing", c"kasa.cloud.framing", String, c"How a decrypted message on the cloud link is framed: xor-length (as on TCP 9999), xor, json-length or json."),
    SSL_AES_LOGIN => (c"Login step", c"kasa.ssl_aes.login", String, c"An SslAes (HTTPS) login: nonce (cnonce only), digest (digest_passwd), hashed (the less secure MD5 login); on an answer, its request's."),
    SSL_AES_CNONCE => (c"Client nonce", c"kasa.ssl_aes.cnonce", String, c"The SslAes login's cnonce."),
    SSL_AES_NONCE => (c"Device nonce", c"kasa.ssl_aes.nonce", String, c"The device's nonce from the SslAes login answer."),
    SSL_AES_AUTH  => (c"Authenticated as", c"kasa.ssl_aes.auth", String, c"Which credential's password the device's device_confirm proves: the user name, or default:… for a known default account."),
    SSL_AES_START_SEQ => (c"Start sequence number", c"kasa.ssl_aes.start_seq", I32, c"The SslAes login answer's start_seq: the first data request's Seq."),
    SSL_AES_SEQ   => (c"Sequence number", c"kasa.ssl_aes.seq", I32, c"The Seq header of an SslAes data request (also on its answer)."),
    SSL_AES_TAG   => (c"Tapo tag", c"kasa.ssl_aes.tag", String, c"The Tapo_tag header of an SslAes data request."),
    SSL_AES_TAG_STATUS => (c"Tapo tag status", c"kasa.ssl_aes.tag.status", ChecksumStatus, c"Whether the Tapo_tag verifies with the session's password."),
    LINKIE_VERSION => (c"Linkie version", c"kasa.linkie.version", U32, c"2 for /data/LINKIE2.json, 1 for /data/LINKIE.json (KC100)."),
    LINKIE_FIELD  => (c"Form field", c"kasa.linkie.field", String, c"The form field that carries a Linkie request (content)."),
    LINKIE_B64_LEN => (c"Base64 length", c"kasa.linkie.b64_len", U32, c"Characters of base64 text (a request's after percent-decoding)."),
    LINKIE_CLEAR  => (c"Clear response", c"kasa.linkie.clear", Bool, c"The Linkie answer is clear JSON (a device's error answer), not base64 of XOR."),
    SEC_CLEAR_SECRET => (c"Secret sent readably", c"kasa.security.clear_secret", String, c"A password, passphrase or key sent under the reversible XOR cipher (or in clear TDP): names the kind of secret and its JSON key, never its value."),
    SEC_CLOUD_REDIRECT => (c"Cloud server redirected", c"kasa.security.cloud_redirect", String, c"cnCloud.set_server_url: the device is told to talk to another cloud server."),
    SEC_UNAUTH_CONTROL => (c"Unauthenticated control", c"kasa.security.unauthenticated_control", String, c"A command that changes the device's state (relay, light, reboot, reset, firmware, schedule), accepted over XOR with no authentication; names the sender."),
    SEC_DEFAULT_ACCOUNT => (c"Default account", c"kasa.security.default_account", String, c"A KLAP or SslAes session authenticated with a publicly known default account."),
    SEC_WEAK_PROTOCOL => (c"Weaker protocol open", c"kasa.security.weak_protocol_open", String, c"The device answers unauthenticated XOR and also announces or speaks KLAP."),
    HTTP_PROBE    => (c"HTTP access probe", c"kasa.http.probe", String, c"Test only (KASA_TEST_HTTP_PROBE set): what HTTP handed the plugin with a body."),
}

subtrees! { ETT_KASA, ETT_METHOD, ETT_DEVICE, ETT_TRANSPORT, ETT_CLOUD, ETT_JSON, ETT_JSON_OBJECT, ETT_JSON_ARRAY, ETT_JSON_MEMBER }

experts! {
    EI_MALFORMED_LENGTH => (c"kasa.malformed.length", Malformed, Error, c"Implausible or inconsistent length header"),
    EI_MALFORMED_JSON   => (c"kasa.malformed.json", Malformed, Error, c"Plaintext is not a JSON object"),
    EI_MALFORMED_UTF8   => (c"kasa.malformed.utf8", Malformed, Error, c"Plaintext is not valid UTF-8"),
    EI_TRUNCATED        => (c"kasa.truncated", Sequence, Warning, c"Message truncated"),
    EI_ZERO_LENGTH      => (c"kasa.zero_length", Protocol, Note, c"Zero length header: the message runs to the end of the stream"),
    EI_ERR_CODE         => (c"kasa.err_code.nonzero", ResponseCode, Note, c"A method returned a non-zero err_code"),
    EI_INTERNAL_ERROR   => (c"kasa.internal_error", Undecoded, Error, c"Plugin internal error (Rust panic caught)"),
    EI_TDP_CRC          => (c"kasa.tdp.crc.bad", Checksum, Error, c"Bad TDP checksum"),
    EI_TDP_SIZE         => (c"kasa.tdp.size.bad", Malformed, Error, c"TDP size disagrees with the datagram"),
    EI_KLAP_MALFORMED   => (c"kasa.klap.malformed", Malformed, Error, c"KLAP body of the wrong size"),
    EI_KLAP_NO_CREDENTIALS => (c"kasa.klap.no_credentials", Undecoded, Note, c"No credential matches the KLAP handshake"),
    EI_KLAP_NO_HANDSHAKE => (c"kasa.klap.no_handshake", Undecoded, Note, c"KLAP session without its handshake"),
    EI_KLAP_SIGNATURE   => (c"kasa.klap.bad_signature", Checksum, Warning, c"KLAP signature does not verify"),
    EI_KLAP_CLIENT_HASH => (c"kasa.klap.client_hash.bad", Protocol, Warning, c"handshake2 client_hash from another account"),
    EI_DECRYPT          => (c"kasa.decrypt_failed", Malformed, Error, c"Ciphertext did not decrypt"),
    EI_AES_NO_KEY       => (c"kasa.aes.no_key", Undecoded, Note, c"AES session key unknown"),
    EI_CLOUD_UNKNOWN    => (c"kasa.cloud.unknown", Undecoded, Note, c"Cloud-link data in no known framing (shown as data)"),
    EI_CLOUD_UNANSWERED => (c"kasa.cloud.unanswered", Sequence, Warning, c"Connection attempt to the TP-Link cloud never answered"),
    EI_SSL_AES_TAG      => (c"kasa.ssl_aes.bad_tag", Checksum, Warning, c"SslAes Tapo_tag does not verify"),
    EI_LINKIE_MALFORMED => (c"kasa.linkie.malformed", Malformed, Error, c"Linkie body is not a form with base64, or not base64"),
    EI_SEC_CLEAR_SECRET => (c"kasa.security.clear_secret.expert", Security, Warning, c"Secret sent under a reversible cipher"),
    EI_SEC_CLOUD_REDIRECT => (c"kasa.security.cloud_redirect.expert", Security, Warning, c"Cloud server redirected"),
    EI_SEC_UNAUTH_CONTROL => (c"kasa.security.unauthenticated_control.expert", Security, Note, c"Unauthenticated command changes the device's state"),
    EI_SEC_DEFAULT_ACCOUNT => (c"kasa.security.default_account.expert", Security, Warning, c"Session authenticated with a default account"),
    EI_SEC_WEAK_PROTOCOL => (c"kasa.security.weak_protocol_open.expert", Security, Note, c"Device keeps unauthenticated XOR open beside KLAP"),
    EI_DUPLICATE => (c"kasa.duplicate.copy", Sequence, Note, c"Copy of an earlier datagram (mirror port or any-interface capture): not paired"),
    EI_ONE_SIDED => (c"kasa.one_sided", Sequence, Note, c"Only the device's side of this connection was captured; a monitor-mode radio may miss the other direction"),
}

/// The expert info for a decoder problem. Exhaustive: a new [`Problem`] variant does not compile
/// until it has its expert info here.
pub fn expert_for(p: &Problem) -> &'static Ei {
    match p {
        Problem::LengthAboveCap { .. }
        | Problem::LengthMismatch { .. }
        | Problem::Garbage { .. } => &EI_MALFORMED_LENGTH,
        Problem::Truncated { .. } => &EI_TRUNCATED,
        Problem::ZeroLength => &EI_ZERO_LENGTH,
        Problem::Json { .. } => &EI_MALFORMED_JSON,
        Problem::Utf8 { .. } => &EI_MALFORMED_UTF8,
        Problem::ErrCode { .. } => &EI_ERR_CODE,
        Problem::TdpCrc { .. } => &EI_TDP_CRC,
        Problem::TdpSize { .. } => &EI_TDP_SIZE,
        Problem::KlapBody { .. } => &EI_KLAP_MALFORMED,
        Problem::KlapNoCredentials => &EI_KLAP_NO_CREDENTIALS,
        Problem::KlapNoHandshake => &EI_KLAP_NO_HANDSHAKE,
        Problem::KlapSignature => &EI_KLAP_SIGNATURE,
        Problem::KlapClientHash => &EI_KLAP_CLIENT_HASH,
        Problem::Decrypt { .. } => &EI_DECRYPT,
        Problem::AesNoKey | Problem::SslAesNoKey => &EI_AES_NO_KEY,
        Problem::SslAesTag => &EI_SSL_AES_TAG,
        Problem::Linkie(_) => &EI_LINKIE_MALFORMED,
        Problem::OneSided => &EI_ONE_SIDED,
    }
}

/// The field and expert info of a security finding. Exhaustive, like [`expert_for`].
pub fn finding_parts(k: audit::Kind) -> (&'static Hf, &'static Ei) {
    match k {
        audit::Kind::ClearSecret => (&SEC_CLEAR_SECRET, &EI_SEC_CLEAR_SECRET),
        audit::Kind::CloudRedirect => (&SEC_CLOUD_REDIRECT, &EI_SEC_CLOUD_REDIRECT),
        audit::Kind::UnauthenticatedControl => (&SEC_UNAUTH_CONTROL, &EI_SEC_UNAUTH_CONTROL),
        audit::Kind::DefaultAccount => (&SEC_DEFAULT_ACCOUNT, &EI_SEC_DEFAULT_ACCOUNT),
        audit::Kind::WeakProtocolOpen => (&SEC_WEAK_PROTOCOL, &EI_SEC_WEAK_PROTOCOL),
    }
}

/// How a transport is shown in words (the `kasa.transport` item's label and the layer's title;
/// the field's value, what filters compare, stays [`transport_name`]). Exhaustive.
pub fn transport_label(t: Transport) -> &'static CStr {
    match t {
        Transport::XorTcp => c"XOR over TCP",
        Transport::XorUdp => c"XOR over UDP",
        Transport::Tdp => c"TDP discovery",
        Transport::Klap => c"KLAP over HTTP",
        Transport::Aes => c"AES over HTTP(S)",
        Transport::Tpap => c"TPAP (TLS)",
        Transport::Cloud => c"TP-Link cloud link",
        Transport::Linkie => c"Linkie over HTTPS",
    }
}

/// The `kasa.transport` value of a transport. Exhaustive, like [`expert_for`].
pub fn transport_name(t: Transport) -> &'static CStr {
    match t {
        Transport::XorTcp => c"xor-tcp",
        Transport::XorUdp => c"xor-udp",
        Transport::Tdp => c"tdp",
        Transport::Klap => c"klap",
        Transport::Aes => c"aes",
        Transport::Tpap => c"tpap",
        Transport::Cloud => c"cloud",
        Transport::Linkie => c"linkie",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn abbrevs_unique_and_prefixed() {
        let mut seen = HashSet::new();
        for f in FIELDS {
            let a = f.abbrev.to_str().unwrap();
            assert!(a.starts_with("kasa."), "{a}");
            assert!(seen.insert(a), "duplicate {a}");
            assert!(!f.blurb.to_bytes().is_empty());
        }
        for e in EXPERTS {
            assert!(seen.insert(e.abbrev.to_str().unwrap()));
        }
    }

    /// A finding's field is `kasa.security.<the decoder's name>`, its expert info the same
    /// with `.expert`, at the decoder's level.
    #[test]
    fn finding_names_agree_with_the_decoder() {
        for k in audit::Kind::ALL {
            let (hf, ei) = finding_parts(k);
            let field = FIELDS.iter().find(|f| core::ptr::eq(f.id, hf)).unwrap();
            let expert = EXPERTS.iter().find(|e| core::ptr::eq(e.id, ei)).unwrap();
            let want = format!("kasa.security.{}", k.name());
            assert_eq!(field.abbrev.to_str().unwrap(), want);
            assert_eq!(expert.abbrev.to_str().unwrap(), format!("{want}.expert"));
            assert_eq!(expert.group, Group::Security);
            let level = match k.level() {
                audit::Level::Note => Level::Note,
                audit::Level::Warning => Level::Warning,
            };
            assert_eq!(expert.level, level, "{want}");
        }
    }

    /// The plugin's expert names are the decoder's (`Problem::expert`, which the CLI prints).
    #[test]
    fn expert_names_agree_with_the_decoder() {
        let samples = [
            Problem::LengthAboveCap { len: 1, cap: 0 },
            Problem::Truncated {
                expected: None,
                got: 0,
            },
            Problem::ZeroLength,
            Problem::Json {
                detail: String::new(),
            },
            Problem::Utf8 { valid_up_to: 0 },
            Problem::ErrCode {
                method: String::new(),
                code: 1,
                msg: None,
            },
            Problem::TdpCrc {
                stored: 0,
                computed: 1,
            },
            Problem::TdpSize {
                header: 0,
                actual: 1,
            },
            Problem::KlapBody {
                step: "request",
                expected: 32,
                got: 0,
            },
            Problem::KlapNoCredentials,
            Problem::KlapNoHandshake,
            Problem::KlapSignature,
            Problem::KlapClientHash,
            Problem::Decrypt {
                detail: String::new(),
            },
            Problem::AesNoKey,
            Problem::SslAesNoKey,
            Problem::SslAesTag,
            Problem::Linkie(kasa_decoder::wire::linkie::LinkieError::Empty),
        ];
        for p in samples {
            let ei = expert_for(&p);
            let def = EXPERTS.iter().find(|e| core::ptr::eq(e.id, ei)).unwrap();
            assert_eq!(def.abbrev.to_str().unwrap(), p.expert(), "{p:?}");
        }
    }

    #[test]
    fn transport_names_agree_with_the_decoder() {
        for t in [
            Transport::XorTcp,
            Transport::XorUdp,
            Transport::Tdp,
            Transport::Klap,
            Transport::Aes,
            Transport::Tpap,
            Transport::Cloud,
            Transport::Linkie,
        ] {
            assert_eq!(transport_name(t).to_str().unwrap(), t.as_str());
        }
    }
}
