//! The few HTTP details KLAP, AES securePassthrough, SslAes and Linkie need from a request line
//! or a header value: the path and query of a request target, and a cookie's value. Pure string
//! work on what the HTTP layer (Wireshark's, or the decoder's own) already took apart; never
//! allocates.

/// The path of a request target: the query (`?…`) and fragment (`#…`) cut off; an absolute
/// target (`http://host:80/app`, as a proxy sees it) loses its scheme and authority.
pub fn path(uri: &str) -> &str {
    let uri = strip_authority(uri);
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    uri.get(..end).unwrap_or(uri)
}

/// Whether a request target can be KLAP or AES: its path starts with `/app` (`/app`,
/// `/app?token=…`, `/app/handshake1`, `/app/request?seq=…`). The cheap first test of both front
/// ends; the session decides the rest.
pub fn is_app_target(uri: &str) -> bool {
    path(uri).starts_with("/app")
}

/// Whether a request target can be any HTTP transport of this crate: KLAP or AES
/// ([`is_app_target`]), SslAes (`/` and `/stok=…/ds`, [`super::ssl_aes`]) or Linkie
/// (`/data/LINKIE2.json`, `/data/LINKIE.json`, [`super::linkie`]). The cheap first test of both
/// front ends (`kasa-decode`'s TCP detection, the plugin's HTTP pre-filter); the session decides
/// from the body.
pub fn is_kasa_target(uri: &str) -> bool {
    let p = path(uri);
    p.starts_with("/app")
        || super::ssl_aes::is_login_path(p)
        || super::ssl_aes::data_path_stok(p).is_some()
        || super::linkie::version(p).is_some()
}

/// The value of the first query parameter `name` (`/app/request?seq=5`, `/app?token=T&x=1`),
/// not percent-decoded. `Some("")` for `name=` and for a bare `name`.
pub fn query_param<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    let uri = strip_authority(uri);
    let uri = uri.split_once('#').map_or(uri, |(u, _)| u);
    let query = uri.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

fn strip_authority(uri: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = uri.strip_prefix(scheme) {
            return rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/");
        }
    }
    uri
}

/// Value of a cookie in a `Cookie` or `Set-Cookie` header value:
/// `cookie("TP_SESSIONID=abc;TIMEOUT=86400", "TP_SESSIONID") == Some("abc")`. Pairs are
/// separated by `;` (with or without blanks); names compare exactly (case-sensitive); a value in
/// double quotes loses them; attributes without `=` (`HttpOnly`) are skipped.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if key.trim() != name {
            return None;
        }
        let value = value.trim();
        Some(
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(path("/app/request?seq=-1663874910"), "/app/request");
        assert_eq!(path("/app/handshake1"), "/app/handshake1");
        assert_eq!(path("/app#x?y"), "/app");
        assert_eq!(
            path("http://192.168.1.2:80/app/handshake2"),
            "/app/handshake2"
        );
        assert_eq!(path("https://h"), "/");
        assert_eq!(path(""), "");
        assert_eq!(path("?"), "");
    }

    #[test]
    fn kasa_targets() {
        for yes in [
            "/app",
            "/app/request?seq=1",
            "/",
            "https://10.0.0.2:443/",
            "/stok=abc/ds",
            "/stok=abc/ds?x=1",
            "/data/LINKIE2.json",
            "https://10.0.0.2:10443/data/LINKIE2.json",
            "/data/LINKIE.json",
        ] {
            assert!(is_kasa_target(yes), "{yes}");
        }
        for no in [
            "",
            "/description.xml",
            "/index.html",
            "/stok=abc",
            "/data/LINKIE3.json",
            "/data/",
        ] {
            assert!(!is_kasa_target(no), "{no}");
        }
        assert!(!is_app_target("/"));
        assert!(!is_app_target("/stok=abc/ds"));
    }

    #[test]
    fn query_params() {
        assert_eq!(query_param("/app/request?seq=5", "seq"), Some("5"));
        assert_eq!(query_param("/app?a=b&seq=-5&seq=6", "seq"), Some("-5"));
        assert_eq!(query_param("/app?token=abc#frag", "token"), Some("abc"));
        assert_eq!(query_param("/app?sequence=5", "seq"), None);
        assert_eq!(query_param("/app?xseq=5", "seq"), None);
        assert_eq!(query_param("/app?seq", "seq"), Some(""));
        assert_eq!(query_param("/app", "seq"), None);
        assert_eq!(query_param("/app#?seq=1", "seq"), None);
        assert_eq!(query_param("http://h/app?seq=1", "seq"), Some("1"));
    }

    #[test]
    fn cookies() {
        let set = "TP_SESSIONID=D31BB81AAD60A;TIMEOUT=1440";
        assert_eq!(cookie(set, "TP_SESSIONID"), Some("D31BB81AAD60A"));
        assert_eq!(cookie(set, "TIMEOUT"), Some("1440"));
        assert_eq!(cookie(set, "SESSIONID"), None);
        assert_eq!(
            cookie("SESSIONID=x; TP_SESSIONID=y", "SESSIONID"),
            Some("x")
        );
        assert_eq!(
            cookie("a=1; TP_SESSIONID=\"q\" ; HttpOnly", "TP_SESSIONID"),
            Some("q")
        );
        assert_eq!(cookie("TP_SESSIONID=; Path=/", "TP_SESSIONID"), Some(""));
        assert_eq!(cookie("tp_sessionid=1", "TP_SESSIONID"), None);
        assert_eq!(cookie("", "TP_SESSIONID"), None);
        assert_eq!(cookie("a=b=c", "a"), Some("b=c"));
    }
}
