//! The one table of everything the plugin registers: header fields, subtrees, expert infos.
//! The README's field table is this table.

use crate::epan::{Ei, Ett, ExpertDef, FieldDef, Group, Hf, Kind, Level};
use core::ffi::CStr;
use kasa_decoder::msg::{Problem, Transport};

macro_rules! fields {
    ($( $id:ident => ($name:literal, $abbrev:literal, $kind:ident, $blurb:literal) ),* $(,)?) => {
        $( pub static $id: Hf = Hf::new(); )*
        /// Every header field, in registration order.
        pub static FIELDS: &[FieldDef] = &[
            $( FieldDef { id: &$id, name: $name, abbrev: $abbrev, kind: Kind::$kind, blurb: $blurb } ),*
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
    TRANSPORT     => (c"Transport", c"kasa.transport", String, c"How the message travelled: xor-tcp or xor-udp."),
    LEN           => (c"Length", c"kasa.len", U32, c"The TCP length header: ciphertext bytes that follow it."),
    PLAINTEXT     => (c"Plaintext", c"kasa.plaintext", String, c"The whole decrypted text: UTF-8 as it is, invalid sequences as U+FFFD, NUL as U+2400."),
    REQUEST       => (c"Request", c"kasa.request", Bool, c"The message goes to the device."),
    RESPONSE      => (c"Response", c"kasa.response", Bool, c"The message comes from the device."),
    METHOD        => (c"Method", c"kasa.method", String, c"module.method (IOT JSON) or the method name (SMART JSON-RPC), one per method in the message."),
    ERR_CODE      => (c"Error code", c"kasa.err_code", I32, c"err_code (IOT) or error_code (SMART) of a method result, one per result."),
    ERR_MSG       => (c"Error message", c"kasa.err_msg", String, c"err_msg (IOT) or msg (SMART) of a method result."),
    RESPONSE_IN   => (c"Response In", c"kasa.response_in", FrameResponse, c"The response to this request is in this frame."),
    RESPONSE_TO   => (c"Request In", c"kasa.response_to", FrameRequest, c"This is a response to the request in this frame."),
    TIME          => (c"Response Time", c"kasa.time", RelativeTime, c"Time from the request to this response."),
    DEVICE_MODEL  => (c"Model", c"kasa.device.model", String, c"Device model, from a get_sysinfo (IOT) or get_device_info (SMART) answer."),
    DEVICE_ALIAS  => (c"Alias", c"kasa.device.alias", String, c"Device name given by its owner (IOT alias, SMART nickname decoded from base64)."),
    DEVICE_MAC    => (c"MAC", c"kasa.device.mac", String, c"Device MAC address as the device reports it."),
    DEVICE_ID     => (c"Device ID", c"kasa.device.id", String, c"deviceId (IOT) or device_id (SMART)."),
    DEVICE_SW_VER => (c"Software version", c"kasa.device.sw_ver", String, c"sw_ver (IOT) or fw_ver (SMART)."),
    DEVICE_HW_VER => (c"Hardware version", c"kasa.device.hw_ver", String, c"hw_ver, from the device's own answer."),
    DEVICE_TYPE   => (c"Device type", c"kasa.device.type", String, c"type or mic_type (IOT), type or device_type (SMART)."),
    CONTEXT_SOURCE => (c"Context source", c"kasa.context.source", String, c"context.source: the app's session id."),
    CONTEXT_CHILD_ID => (c"Context child id", c"kasa.context.child_id", String, c"context.child_ids: outlets addressed."),
    HTTP_PROBE    => (c"HTTP access probe", c"kasa.http.probe", String, c"Test only (KASA_TEST_HTTP_PROBE set): what HTTP handed the plugin with a body."),
}

subtrees! { ETT_KASA, ETT_DEVICE }

experts! {
    EI_MALFORMED_LENGTH => (c"kasa.malformed.length", Malformed, Error, c"Implausible or inconsistent length header"),
    EI_MALFORMED_JSON   => (c"kasa.malformed.json", Malformed, Error, c"Plaintext is not a JSON object"),
    EI_MALFORMED_UTF8   => (c"kasa.malformed.utf8", Malformed, Error, c"Plaintext is not valid UTF-8"),
    EI_TRUNCATED        => (c"kasa.truncated", Sequence, Warning, c"Message truncated"),
    EI_ZERO_LENGTH      => (c"kasa.zero_length", Protocol, Note, c"Zero length header: the message runs to the end of the stream"),
    EI_ERR_CODE         => (c"kasa.err_code.nonzero", ResponseCode, Note, c"A method returned a non-zero err_code"),
    EI_INTERNAL_ERROR   => (c"kasa.internal_error", Undecoded, Error, c"Plugin internal error (Rust panic caught)"),
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
    }
}

/// The `kasa.transport` value of a transport. Exhaustive, like [`expert_for`].
pub fn transport_name(t: Transport) -> &'static CStr {
    match t {
        Transport::XorTcp => c"xor-tcp",
        Transport::XorUdp => c"xor-udp",
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
        ];
        for p in samples {
            let ei = expert_for(&p);
            let def = EXPERTS.iter().find(|e| core::ptr::eq(e.id, ei)).unwrap();
            assert_eq!(def.abbrev.to_str().unwrap(), p.expert(), "{p:?}");
        }
    }

    #[test]
    fn transport_names_agree_with_the_decoder() {
        for t in [Transport::XorTcp, Transport::XorUdp] {
            assert_eq!(transport_name(t).to_str().unwrap(), t.as_str());
        }
    }
}
