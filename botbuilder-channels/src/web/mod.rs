//! The web chat channel. A visitor's own turn is answered in its request (JSON, or SSE while
//! the model writes); what reaches the visitor outside a request, an agent's reply during a
//! handoff, is sent through [`WebChannel`] like any channel's reply (formatted by the one
//! formatter) and published to the visitor event streams of the server
//! (`GET /api/v1/webchat/{bot}/events`). The recipient's `conversation` is the visitor
//! ([`visitor_key`]: bot and visitor id, so a stream filters without a lookup) and its
//! `thread` the session. Each delivery gets a sequence number; with this process's
//! [`WebChannel::epoch`] it makes the stream's event id (`{epoch}.{seq}`), so a stream that
//! reconnects with `Last-Event-ID` first gets what it missed from a bounded backlog, and an
//! id from before a restart is recognised as such. History stays available over REST.
//!
//! Several instances: a visitor's stream is open on one instance, while an agent may reply on
//! another. [`WebChannel::with_fanout`] hands every part sent here to a relay (the server
//! carries them over Redis pub/sub), and the other instances publish what the relay brings
//! them with [`WebChannel::deliver_from_elsewhere`]. Each instance numbers what it publishes
//! itself, under its own epoch.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use botbuilder_core::channel::{
    Capabilities, ChannelError, ChannelKind, ChannelSender, DeliveryReceipt, Part, Recipient,
};
use tokio::sync::{broadcast, mpsc};

/// Deliveries kept for listeners that reconnect, and buffered for slow ones.
pub const DEFAULT_BUFFER: usize = 1024;
/// Parts waiting for the relay to the other instances ([`WebChannel::with_fanout`]).
pub const FANOUT_BUFFER: usize = 1024;

pub use botbuilder_core::channel::web_visitor_key as visitor_key;

/// A part published by the web channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebDelivery {
    /// Its position among everything this channel published (from 1): the event id.
    pub seq: u64,
    /// Whom it is for ([`visitor_key`], and the session as `thread`).
    pub to: Recipient,
    /// The part of a reply.
    pub part: Part,
}

#[derive(Debug)]
struct Backlog {
    last_seq: u64,
    kept: VecDeque<WebDelivery>,
    capacity: usize,
}

/// Delivers replies to web chat listeners through an in-process broadcast, with a backlog
/// for listeners that reconnect. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebChannel {
    sender: broadcast::Sender<WebDelivery>,
    backlog: Arc<Mutex<Backlog>>,
    epoch: Arc<str>,
    /// Where parts sent here go for the other instances, if anywhere.
    fanout: Option<mpsc::Sender<(Recipient, Part)>>,
}

impl Default for WebChannel {
    fn default() -> Self {
        Self::new(DEFAULT_BUFFER)
    }
}

impl WebChannel {
    /// A channel keeping up to `buffer` deliveries.
    pub fn new(buffer: usize) -> Self {
        let capacity = buffer.max(1);
        let (sender, _) = broadcast::channel(capacity);
        Self {
            sender,
            backlog: Arc::new(Mutex::new(Backlog {
                last_seq: 0,
                kept: VecDeque::with_capacity(capacity),
                capacity,
            })),
            epoch: random_epoch().into(),
            fanout: None,
        }
    }

    /// This channel, also handing every part sent through it to the returned receiver, for
    /// a relay to the other instances (see the module docs). While the relay is
    /// [`FANOUT_BUFFER`] parts behind (its link is down), further parts reach this instance's
    /// listeners only: a live update late by minutes is worth less than memory.
    pub fn with_fanout(mut self) -> (Self, mpsc::Receiver<(Recipient, Part)>) {
        let (tx, rx) = mpsc::channel(FANOUT_BUFFER);
        self.fanout = Some(tx);
        (self, rx)
    }

    /// Publishes a part another instance sent, to this instance's listeners only.
    pub fn deliver_from_elsewhere(&self, to: &Recipient, part: &Part) {
        self.publish(to, part);
    }

    /// Numbers `part`, keeps it in the backlog and hands it to the listeners, under one lock
    /// so listeners see sequence order.
    fn publish(&self, to: &Recipient, part: &Part) {
        let mut backlog = self.backlog.lock().expect("web backlog poisoned");
        backlog.last_seq += 1;
        let delivery = WebDelivery {
            seq: backlog.last_seq,
            to: to.clone(),
            part: part.clone(),
        };
        if backlog.kept.len() == backlog.capacity {
            backlog.kept.pop_front();
        }
        backlog.kept.push_back(delivery.clone());
        let _listeners = self.sender.send(delivery);
    }

    /// What tells this channel's sequence numbers from another process's (or an earlier
    /// start's): random, fixed for the channel's life.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Listens to every delivery from now on; filter by [`WebDelivery::to`].
    pub fn subscribe(&self) -> broadcast::Receiver<WebDelivery> {
        self.sender.subscribe()
    }

    /// The kept deliveries after `seq`, oldest first (those older than the backlog are gone;
    /// the history is over REST).
    pub fn since(&self, seq: u64) -> Vec<WebDelivery> {
        let backlog = self.backlog.lock().expect("web backlog poisoned");
        backlog
            .kept
            .iter()
            .filter(|d| d.seq > seq)
            .cloned()
            .collect()
    }

    /// The last sequence number given out (0 before the first delivery).
    pub fn last_seq(&self) -> u64 {
        self.backlog.lock().expect("web backlog poisoned").last_seq
    }
}

/// 64 random bits in hex, from the system's random generator.
fn random_epoch() -> String {
    let mut bits = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bits).expect("the system random generator failed");
    bits.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl ChannelSender for WebChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Web
    }

    /// Any length of text, 10 buttons (more become numbered lines), quick replies, images
    /// and typing: the widget shows them all.
    fn capabilities(&self) -> Capabilities {
        Capabilities::text_only()
            .with_buttons(10, 0)
            .with_media(true, true, true)
    }

    /// Publishes the part here, and hands it to the fan-out for the other instances. Having
    /// no listener is not an error: web clients also fetch history over REST.
    async fn send(&self, to: &Recipient, part: &Part) -> Result<DeliveryReceipt, ChannelError> {
        self.publish(to, part);
        if let Some(fanout) = &self.fanout
            && fanout.try_send((to.clone(), part.clone())).is_err()
        {
            tracing::warn!("the web chat relay is behind; a reply reaches this instance only");
        }
        Ok(DeliveryReceipt::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Part {
        Part::Text {
            text: t.into(),
            choices: None,
        }
    }

    #[tokio::test]
    async fn listeners_receive_sent_parts_in_sequence() {
        let channel = WebChannel::default();
        let mut rx = channel.subscribe();
        let to = Recipient::new("session-1");
        channel.send(&to, &text("hi")).await.unwrap();
        channel.send(&to, &text("there")).await.unwrap();
        let first = rx.recv().await.unwrap();
        assert_eq!((first.seq, &first.to, &first.part), (1, &to, &text("hi")));
        assert_eq!(rx.recv().await.unwrap().seq, 2);
        assert_eq!(channel.last_seq(), 2);
    }

    #[tokio::test]
    async fn a_reconnecting_listener_gets_what_it_missed_from_a_bounded_backlog() {
        let channel = WebChannel::new(3);
        let to = Recipient::new("s");
        for i in 0..5 {
            channel.send(&to, &text(&i.to_string())).await.unwrap();
        }
        let missed: Vec<u64> = channel.since(3).iter().map(|d| d.seq).collect();
        assert_eq!(missed, [4, 5]);
        let kept: Vec<u64> = channel.since(0).iter().map(|d| d.seq).collect();
        assert_eq!(kept, [3, 4, 5], "only the newest are kept");
    }

    #[test]
    fn each_channel_has_its_own_epoch() {
        let (a, b) = (WebChannel::default(), WebChannel::default());
        assert_eq!(a.epoch().len(), 16);
        assert_ne!(a.epoch(), b.epoch());
        assert_eq!(a.clone().epoch(), a.epoch());
    }

    #[tokio::test]
    async fn parts_sent_here_go_to_the_fanout_and_parts_from_elsewhere_do_not() {
        let (channel, mut fanout) = WebChannel::default().with_fanout();
        let mut rx = channel.subscribe();
        let to = Recipient::new("visitor");
        channel.send(&to, &text("from here")).await.unwrap();
        channel.deliver_from_elsewhere(&to, &text("from another instance"));
        assert_eq!(fanout.recv().await, Some((to.clone(), text("from here"))));
        assert!(
            fanout.try_recv().is_err(),
            "what came from elsewhere goes back nowhere"
        );
        assert_eq!(rx.recv().await.unwrap().part, text("from here"));
        let elsewhere = rx.recv().await.unwrap();
        assert_eq!(
            (elsewhere.seq, elsewhere.part),
            (2, text("from another instance"))
        );
    }
}
