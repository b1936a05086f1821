//! Conversations: putting a TCP direction back in order ([`reassembly`]), keeping track of which
//! frames carried which bytes of it ([`stream`]), cutting it into messages per transport
//! ([`framer`] for XOR), pairing requests with responses ([`pair`]), and the [`session`] layer
//! that decides admission, direction, pairing and device identity for every front end; apart from
//! those, [`cloud`] tracks the devices' TLS links to TP-Link's cloud.

pub mod cloud;
pub mod framer;
pub mod http;
pub mod pair;
pub mod pair_key;
pub mod reassembly;
pub mod secure;
pub mod session;
pub mod stream;

pub use cloud::{CloudLink, CloudTracker};
pub use framer::{Analysed, Framer, RawMessage};
pub use http::{HttpMessage, HttpSplitter, HttpView};
pub use pair::Pairer;
pub use pair_key::PairKey;
pub use reassembly::{Chunk, Reassembler};
pub use secure::Secrets;
pub use session::{Admission, ConvId, Found, Link, MessageId, Record, Seen, Session, Shown};
pub use stream::{Event, StreamDecoder};
