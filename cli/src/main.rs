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
mod report;

/// Messages are built on the decoding thread and freed on the printing thread; glibc's malloc
/// serialises such frees on the owning arena's lock (a third of the text mode's time went to
/// futex waits), mimalloc hands them back without one.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use kasa_decoder::capture::{CaptureError, Config, Item, Reader, Summary, decode_stream};
use kasa_decoder::conv::Secrets;
use kasa_decoder::inventory::Inventory;
use kasa_decoder::stats::Accumulator;
use kasa_decoder::wire::aes::{AesKeys, rsa_private_key};
use kasa_decoder::wire::klap::Credential;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

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
    /// Print, instead of the messages, a table per capture: per device, transport and method,
    /// requests, responses, errors, unanswered requests and response times (the plugin's
    /// `tshark -z kasa,tree`).
    #[arg(long, conflicts_with_all = ["json", "method"])]
    stats: bool,
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
    /// Instead of the messages, write a device report: per device its identity, addresses,
    /// transports, cloud servers, who sent which commands when, the security findings, and
    /// plots of its energy meter and state. To FILE as one self-contained HTML page; `-`
    /// prints it as Markdown.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
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
    if let Some(out) = &args.report {
        return write_report(args, &config, out);
    }
    let to_terminal = io::stdout().is_terminal();
    let several = args.captures.len() > 1;
    // Two threads: this one reads and decodes, the printing thread formats and writes (on
    // the 100,000-message benchmark the two halves cost about the same). Items cross in
    // batches through a bounded channel, in capture order.
    let (tx, rx) = mpsc::sync_channel::<Cmd>(CHANNEL_BATCHES);
    let (json, method, stats) = (args.json, args.method.clone(), args.stats);
    std::thread::scope(|scope| {
        let printing = scope.spawn(move || {
            if stats {
                print_stats(rx)
            } else {
                print_all(rx, json, method)
            }
        });
        let mut out = Out {
            tx,
            batch: Vec::with_capacity(BATCH),
        };
        let mut failed = false;
        let decoded = (|| -> Result<(), Closed> {
            for path in &args.captures {
                let name = path.to_string_lossy();
                if several {
                    out.send(Cmd::StartFile(name.to_string()))?;
                }
                if let Some(e) = decode_one(path, &config, &mut out, to_terminal)? {
                    // Said after what was printed before it.
                    out.send(Cmd::Report(format!("{name}: {e}")))?;
                    failed = true;
                }
            }
            Ok(())
        })();
        drop(out);
        // The printing thread's error (a closed pipe, a full disk) is the one to report; a
        // closed channel only says that it stopped.
        let printed = printing
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the printing thread panicked")));
        printed?;
        debug_assert!(
            decoded.is_ok(),
            "the channel closes only when printing stops"
        );
        Ok(if failed {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// Items per batch handed to the printing thread, and batches in flight: at most about 4,600
/// items wait between the threads.
const BATCH: usize = 512;
const CHANNEL_BATCHES: usize = 8;

/// What the decoding thread hands the printing thread, in output order.
enum Cmd {
    Items(Vec<Item>),
    /// Write out what is buffered (live input: this frame's lines now).
    Flush,
    StartFile(String),
    End(Summary),
    /// Said on stderr once everything before it is on stdout.
    Report(String),
}

/// The printing thread stopped (its error says why).
struct Closed;

/// The decoding side of the channel: items collect into a batch.
struct Out {
    tx: mpsc::SyncSender<Cmd>,
    batch: Vec<Item>,
}

impl Out {
    fn item(&mut self, item: Item) -> Result<(), Closed> {
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            self.send_batch()?;
        }
        Ok(())
    }
    fn send_batch(&mut self) -> Result<(), Closed> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.tx.send(Cmd::Items(batch)).map_err(|_| Closed)
    }
    /// Sends the batch, then `cmd`.
    fn send(&mut self, cmd: Cmd) -> Result<(), Closed> {
        self.send_batch()?;
        self.tx.send(cmd).map_err(|_| Closed)
    }
}

/// The printing thread: formats and writes every command, in order.
fn print_all(rx: mpsc::Receiver<Cmd>, json: bool, method: Option<String>) -> io::Result<()> {
    let stdout = io::stdout();
    let mut printer = printer::Printer::new(
        io::BufWriter::with_capacity(1 << 16, stdout.lock()),
        json,
        method,
    );
    for cmd in rx {
        match cmd {
            Cmd::Items(items) => {
                for item in &items {
                    printer.item(item)?;
                }
            }
            Cmd::Flush => printer.flush()?,
            Cmd::StartFile(name) => printer.start_file(&name)?,
            Cmd::End(summary) => printer.end(&summary)?,
            Cmd::Report(text) => {
                printer.flush()?;
                eprintln!("kasa-decode: {text}");
            }
        }
    }
    printer.flush()
}

/// `--stats`: counts every message of a capture ([`kasa_decoder::stats`]) and prints the table
/// at its end.
fn print_stats(rx: mpsc::Receiver<Cmd>) -> io::Result<()> {
    use std::io::Write;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut acc = Accumulator::new();
    for cmd in rx {
        match cmd {
            Cmd::Items(items) => {
                for item in &items {
                    if let Item::Message {
                        message,
                        id,
                        request,
                    } = item
                    {
                        acc.add_message(message, *id, *request);
                    }
                }
            }
            Cmd::Flush => {}
            Cmd::StartFile(name) => writeln!(out, "== {name}")?,
            Cmd::End(_) => {
                let mut text = String::new();
                let _ = std::mem::take(&mut acc).render_text(&mut text);
                out.write_all(text.as_bytes())?;
            }
            Cmd::Report(text) => {
                out.flush()?;
                eprintln!("kasa-decode: {text}");
            }
        }
    }
    out.flush()
}

/// Decodes one capture (`-`: standard input) and hands its items to the printing thread.
/// Returns why the capture could not be read (to its end), after everything before it;
/// `Err` when the printing thread stopped.
fn decode_one(
    path: &Path,
    config: &Config,
    out: &mut Out,
    to_terminal: bool,
) -> Result<Option<CaptureError>, Closed> {
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
    let started = std::time::Instant::now();
    let progress = |read, _| {
        if let Some(bar) = &bar {
            bar.set_position(read);
        }
    };
    let (summary, stop) = decode_stream(&mut reader, config, progress, |item| {
        out.item(item)?;
        if live {
            // Nothing more may come for a while: what is complete is shown now.
            out.send(Cmd::Flush)?;
        }
        Ok(())
    })?;
    let shown_bar = bar.is_some();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    // Where the bar was, one line saying what the file held (the output went elsewhere).
    let line = shown_bar.then(|| summary_line(path, &summary, started.elapsed()));
    out.send(Cmd::End(summary))?;
    if let Some(line) = line {
        out.send(Cmd::Report(line))?;
    }
    Ok(stop)
}

/// `--report`: decodes every capture into its device inventory, then writes one report.
fn write_report(args: &Args, config: &Config, out: &Path) -> io::Result<ExitCode> {
    let mut captures = Vec::new();
    let mut failed = false;
    for path in &args.captures {
        let name = path.to_string_lossy().into_owned();
        let opened = if path.as_os_str() == "-" {
            Reader::from_read(io::stdin(), 0)
        } else {
            Reader::open(path)
        };
        let mut reader = match opened {
            Ok(r) => r,
            Err(e) => {
                eprintln!("kasa-decode: {name}: {e}");
                failed = true;
                continue;
            }
        };
        let mut inventory = Inventory::new();
        let decoded = decode_stream(
            &mut reader,
            config,
            |_, _| {},
            |item| -> Result<(), std::convert::Infallible> {
                if let Item::Message { message, .. } = item {
                    inventory.add(&message);
                }
                Ok(())
            },
        );
        let (summary, stop) = match decoded {
            Ok(done) => done,
            Err(never) => match never {},
        };
        if let Some(e) = stop {
            eprintln!("kasa-decode: {name}: {e}");
            failed = true;
        }
        captures.push(report::Capture {
            name,
            report: inventory.finish(&summary),
        });
    }
    if out.as_os_str() == "-" {
        let mut stdout = io::stdout().lock();
        stdout.write_all(report::markdown(&captures).as_bytes())?;
        stdout.flush()?;
    } else {
        std::fs::write(out, report::html(&captures))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", out.display())))?;
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
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

/// The line that replaces the progress bar at the end of a file: what it held and how long
/// decoding took.
fn summary_line(path: &Path, summary: &Summary, took: std::time::Duration) -> String {
    let s = &summary.stats;
    format!(
        "{}: {} messages ({} requests, {} responses), {} devices, {} malformed, {} frames in {:.1} s",
        path.display(),
        s.messages,
        s.requests,
        s.responses,
        s.devices,
        s.malformed,
        s.frames,
        took.as_secs_f64()
    )
}

/// A bar on stderr for files over 8 MiB, only when stderr is a terminal (and, the caller sees to it, stdout is not: lines
/// are printed while the bar runs). Replaced at the end by a one-line summary.
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
