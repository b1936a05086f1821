//! `kasa-decode`: prints the messages of captures, one line each or as JSON Lines, as they are
//! decoded.
//!
//! A thin shell: arguments → [`Config`] → [`kasa_decoder::capture::Decoder`] → a printer. Each
//! capture named (a file, or `-` for standard input, e.g. `tcpdump -U -w - | kasa-decode -`) is
//! decoded on its own. Exit status: 0 when every capture was read to its end (malformed
//! messages are findings, not failures); 2 when one was unreadable, of an unsupported link
//! type or cut short (after printing what came before; the other captures are still decoded),
//! or for bad arguments; a closed pipe on stdout ends quietly with 0.

mod printer;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use kasa_decoder::capture::{CaptureError, Config, Decoder, Reader};
use kasa_decoder::conv::Secrets;
use kasa_decoder::wire::aes::{AesKeys, rsa_private_key};
use kasa_decoder::wire::klap::Credential;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Decode TP-Link Kasa / Tapo smart-home traffic (XOR, TDP discovery, KLAP, AES; SslAes and
/// Linkie in plain-HTTP captures) from a pcap or pcapng capture.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The captures (pcap or pcapng), each decoded on its own; `-` reads one from standard
    /// input, as it arrives (a live `tcpdump -U -w -`).
    #[arg(required = true, value_name = "CAPTURE")]
    captures: Vec<PathBuf>,
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
    let stdout = io::stdout();
    let to_terminal = stdout.is_terminal();
    let mut printer = printer::Printer::new(
        io::BufWriter::with_capacity(1 << 16, stdout.lock()),
        args.json,
        args.method.clone(),
    );
    let several = args.captures.len() > 1;
    let mut failed = false;
    for path in &args.captures {
        let name = path.to_string_lossy();
        if several {
            printer.start_file(&name)?;
        }
        if let Some(e) = decode_one(path, &config, &mut printer, to_terminal)? {
            // Said after what was printed before it.
            printer.flush()?;
            eprintln!("kasa-decode: {name}: {e}");
            failed = true;
        }
    }
    printer.flush()?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Decodes one capture (`-`: standard input) and prints it. Returns why the capture could not
/// be read (to its end), after printing everything before it; `Err` is an error writing the
/// output.
fn decode_one(
    path: &Path,
    config: &Config,
    printer: &mut printer::Printer<impl io::Write>,
    to_terminal: bool,
) -> io::Result<Option<CaptureError>> {
    let opened = if path.as_os_str() == "-" {
        Reader::from_read(io::stdin(), 0).map(|r| (r, None))
    } else {
        Reader::open(path).map(|r| (r, std::fs::metadata(path).ok()))
    };
    let (mut reader, live, size) = match opened {
        Err(e) => return Ok(Some(e)),
        Ok((reader, None)) => (reader, true, 0),
        Ok((reader, Some(meta))) => {
            // A FIFO or a device is read as it is written: print as it comes.
            (reader, !meta.is_file(), meta.len())
        }
    };
    let bar = (!to_terminal && !live)
        .then(|| progress_bar(size))
        .flatten();
    let mut decoder = Decoder::new(config.clone());
    let mut stop = None;
    let mut frames = 0u64;
    while let Some(record) = reader.next_record() {
        match record {
            Ok(r) => decoder.push(&r),
            Err(e) => {
                stop = Some(e);
                break;
            }
        }
        let mut wrote = false;
        while let Some(item) = decoder.pop() {
            wrote |= printer.item(&item)?;
        }
        if live && wrote {
            // Nothing more may come for a while: what this frame completed is shown now.
            printer.flush()?;
        }
        frames += 1;
        if let Some(bar) = &bar
            && frames.is_multiple_of(4096)
        {
            bar.set_position(reader.progress().0);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = decoder.end();
    while let Some(item) = decoder.pop() {
        printer.item(&item)?;
    }
    printer.end(&summary)?;
    Ok(stop)
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

/// A bar on stderr for files over 8 MiB, only when stderr is a terminal (and, the caller
/// sees to it, stdout is not: lines are printed while the bar runs).
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
