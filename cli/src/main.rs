//! `kasa-decode`: prints the messages of a capture, one line each or as JSON Lines.
//!
//! A thin shell: arguments → [`Config`] → [`kasa_decoder::capture`] → a printer. Exit status:
//! 0 when the capture was read to its end (malformed messages are findings, not failures);
//! 2 for an unreadable file, an unsupported link type, a file cut short (after printing what
//! came before) or bad arguments; a closed pipe on stdout ends quietly with 0.

mod printer;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use kasa_decoder::capture::{Config, decode_file_with_progress};
use kasa_decoder::conv::Secrets;
use kasa_decoder::wire::aes::{AesKeys, rsa_private_key};
use kasa_decoder::wire::klap::Credential;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Decode TP-Link Kasa / Tapo smart-home traffic (XOR, TDP discovery, KLAP, AES; SslAes and
/// Linkie in plain-HTTP captures) from a pcap or pcapng capture.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The capture file (pcap or pcapng).
    capture: PathBuf,
    /// Print JSON Lines (one object per message, problem and a final summary).
    #[arg(long)]
    json: bool,
    /// Treat this TCP and UDP port as a device port, besides 9999 (repeatable).
    #[arg(long = "port", value_name = "N")]
    ports: Vec<u16>,
    /// Only print messages carrying this method (`module.method`, or the method alone).
    #[arg(long, value_name = "NAME")]
    method: Option<String>,
    /// Length headers above this many bytes are malformed.
    #[arg(long, value_name = "BYTES", default_value_t = kasa_decoder::wire::xor::DEFAULT_MAX_MESSAGE)]
    max_message_size: u32,
    /// Treat this TCP server port as a cloud-link port, besides 50443 (repeatable).
    #[arg(long = "cloud-port", value_name = "PORT")]
    cloud_ports: Vec<u16>,
    /// Do not look for the protocol on other ports.
    #[arg(long)]
    no_heuristics: bool,
    /// A KLAP account to try against handshakes (and an SslAes password against logins),
    /// besides the known default accounts (repeatable; split at the first colon:
    /// `user@example.com:secret`).
    #[arg(long = "credential", value_name = "USER:PASSWORD")]
    credentials: Vec<String>,
    /// An AES securePassthrough (or SslAes) session key and IV, 16 bytes each in hex
    /// (repeatable).
    #[arg(long = "aes-key", value_name = "KEYHEX:IVHEX")]
    aes_keys: Vec<String>,
    /// A file with an AES client's (or TDP prober's) RSA private key: PEM, or base64 PKCS#8
    /// DER as python-kasa stores `aes_keys.private` (repeatable).
    #[arg(long = "rsa-key", value_name = "FILE")]
    rsa_keys: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kasa-decode: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> io::Result<ExitCode> {
    let mut config = Config {
        max_message: args.max_message_size,
        heuristics: !args.no_heuristics,
        ..Config::default()
    };
    config.secrets = match secrets(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kasa-decode: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    for &p in &args.ports {
        if !config.tcp_ports.contains(&p) {
            config.tcp_ports.push(p);
            config.udp_ports.push(p);
        }
    }
    for &p in &args.cloud_ports {
        if !config.cloud_ports.contains(&p) {
            config.cloud_ports.push(p);
        }
    }
    let size = std::fs::metadata(&args.capture).map_or(0, |m| m.len());
    let bar = progress_bar(size);
    let decoded = decode_file_with_progress(&args.capture, &config, |read, _| {
        if let Some(bar) = &bar {
            bar.set_position(read);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let decoded = match decoded {
        Ok(d) => d,
        Err(e) => {
            eprintln!("kasa-decode: {}: {e}", args.capture.display());
            return Ok(ExitCode::from(2));
        }
    };
    let stdout = io::stdout().lock();
    let mut out = io::BufWriter::new(stdout);
    printer::print(&mut out, &decoded, args.json, args.method.as_deref())?;
    out.flush()?;
    match &decoded.stop {
        Some(e) => {
            eprintln!("kasa-decode: {}: {e}", args.capture.display());
            Ok(ExitCode::from(2))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The secrets of the command line. Errors name the option, never a secret.
fn secrets(args: &Args) -> Result<Secrets, String> {
    let mut s = Secrets::default();
    for c in &args.credentials {
        let (user, password) = c
            .split_once(':')
            .ok_or("--credential wants USER:PASSWORD (no colon found)")?;
        s.credentials.push(Credential::new(user, user, password));
    }
    for k in &args.aes_keys {
        let keys = k
            .split_once(':')
            .and_then(|(key, iv)| AesKeys::from_hex(key, iv))
            .ok_or("--aes-key wants KEYHEX:IVHEX, 32 hex digits each")?;
        s.aes_keys.push(keys);
    }
    for path in &args.rsa_keys {
        let bytes =
            std::fs::read(path).map_err(|e| format!("--rsa-key {}: {e}", path.display()))?;
        let key = rsa_private_key(&bytes)
            .map_err(|e| format!("--rsa-key {}: not an RSA private key ({e})", path.display()))?;
        s.rsa_keys.push(key);
    }
    Ok(s)
}

/// A bar on stderr for files over 8 MiB, only when stderr is a terminal.
fn progress_bar(len: u64) -> Option<ProgressBar> {
    if !io::stderr().is_terminal() || len < 8 << 20 {
        return None;
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}") {
        bar.set_style(style);
    }
    Some(bar)
}
