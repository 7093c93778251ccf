//! Sans-IO JSON-RPC 1.0 session: bytes and time in, bytes and events out.
//!
//! [`Session`] owns no socket. Feed received bytes with [`Session::receive`],
//! drive timers with [`Session::handle_timeout`] / [`Session::poll_timeout`],
//! send what [`Session::take_output`] returns, and consume [`Event`]s.
//! It allocates request ids, matches responses, answers the server's `echo`
//! requests itself and runs the inactivity probe.

use bytes::BytesMut;
use serde_json::{json, Value as Json};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::framing::JsonFramer;

/// A classified JSON-RPC 1.0 message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request {
        id: Json,
        method: String,
        params: Json,
    },
    Notification {
        method: String,
        params: Json,
    },
    Response {
        id: Json,
        result: Json,
        error: Json,
    },
}

impl Message {
    /// Classify a JSON value; errors if it is not a JSON-RPC message.
    pub fn from_json(j: Json) -> Result<Self, Error> {
        let Json::Object(mut o) = j else {
            return Err(Error::Malformed("JSON-RPC message is not an object".into()));
        };
        if let Some(m) = o.remove("method") {
            let method = match m {
                Json::String(s) => s,
                _ => return Err(Error::Malformed("method is not a string".into())),
            };
            let params = o.remove("params").unwrap_or(Json::Array(vec![]));
            if !params.is_array() {
                return Err(Error::Malformed("params is not an array".into()));
            }
            match o.remove("id") {
                None | Some(Json::Null) => Ok(Message::Notification { method, params }),
                Some(id) => Ok(Message::Request { id, method, params }),
            }
        } else if o.contains_key("result") || o.contains_key("error") {
            let id = o
                .remove("id")
                .ok_or_else(|| Error::Malformed("response without id".into()))?;
            Ok(Message::Response {
                id,
                result: o.remove("result").unwrap_or(Json::Null),
                error: o.remove("error").unwrap_or(Json::Null),
            })
        } else {
            Err(Error::Malformed("neither request nor response".into()))
        }
    }

    pub fn to_json(&self) -> Json {
        match self {
            Message::Request { id, method, params } => {
                json!({"method": method, "params": params, "id": id})
            }
            Message::Notification { method, params } => {
                json!({"method": method, "params": params, "id": null})
            }
            Message::Response { id, result, error } => {
                json!({"id": id, "result": result, "error": error})
            }
        }
    }
}

/// Something the session wants the driver to know.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Reply to one of our requests (`Err` holds the JSON-RPC `error` member).
    Response {
        id: u64,
        method: String,
        result: Result<Json, Json>,
    },
    /// A notification (`update*`, `locked`, `stolen`, ...).
    Notification { method: String, params: Json },
    /// A request from the server other than `echo` (already answered with an error).
    Request {
        id: Json,
        method: String,
        params: Json,
    },
}

/// Sans-IO JSON-RPC session state.
#[derive(Debug)]
pub struct Session {
    framer: JsonFramer,
    inbuf: BytesMut,
    out: BytesMut,
    next_id: u64,
    pending: HashMap<u64, String>,
    events: VecDeque<Event>,
    probe_interval: Option<Duration>,
    last_rx: Instant,
    probe_sent: Option<Instant>,
}

impl Session {
    /// `probe_interval`: send an `echo` after this much receive inactivity, and
    /// fail with [`Error::ProbeTimeout`] if nothing arrives for another interval.
    pub fn new(now: Instant, probe_interval: Option<Duration>, max_message: usize) -> Self {
        Session {
            framer: JsonFramer::new(max_message),
            inbuf: BytesMut::new(),
            out: BytesMut::new(),
            next_id: 1,
            pending: HashMap::new(),
            events: VecDeque::new(),
            probe_interval,
            last_rx: now,
            probe_sent: None,
        }
    }

    /// Allocate a fresh request id.
    pub fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Queue a request with a fresh id; returns the id.
    pub fn send_request(&mut self, method: &str, params: Json) -> u64 {
        let id = self.alloc_id();
        self.send_request_with_id(id, method, params);
        id
    }

    /// Queue a request with a caller-chosen id (must be unique among outstanding ones).
    pub fn send_request_with_id(&mut self, id: u64, method: &str, params: Json) {
        self.pending.insert(id, method.to_string());
        self.write(&Message::Request {
            id: json!(id),
            method: method.into(),
            params,
        });
    }

    pub fn send_notification(&mut self, method: &str, params: Json) {
        self.write(&Message::Notification {
            method: method.into(),
            params,
        });
    }

    pub fn send_response(&mut self, id: Json, result: Json, error: Json) {
        self.write(&Message::Response { id, result, error });
    }

    fn write(&mut self, m: &Message) {
        // Serializing a serde_json::Value cannot fail.
        if let Ok(v) = serde_json::to_vec(&m.to_json()) {
            self.out.extend_from_slice(&v);
        }
    }

    /// Number of requests awaiting a response.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Forget a pending request (e.g. its caller went away).
    pub fn forget(&mut self, id: u64) {
        self.pending.remove(&id);
    }

    /// Ids of all pending requests (to fail them on disconnect).
    pub fn pending_ids(&self) -> Vec<u64> {
        self.pending.keys().copied().collect()
    }

    /// Bytes to send, if any.
    pub fn take_output(&mut self) -> Option<BytesMut> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.split())
        }
    }

    /// Feed received bytes. An error means the stream is unusable (bad framing,
    /// oversize message, non-JSON-RPC data) and the connection should be closed.
    pub fn receive(&mut self, data: &[u8], now: Instant) -> Result<(), Error> {
        if !data.is_empty() {
            self.last_rx = now;
            self.probe_sent = None;
        }
        self.inbuf.extend_from_slice(data);
        while let Some(j) = self.framer.next_value(&mut self.inbuf)? {
            let m = Message::from_json(j)?;
            self.handle_message(m);
        }
        Ok(())
    }

    fn handle_message(&mut self, m: Message) {
        match m {
            Message::Request { id, method, params } => {
                if method == "echo" {
                    self.send_response(id, params, Json::Null);
                } else {
                    self.send_response(id.clone(), Json::Null, json!({"error": "unknown method"}));
                    self.events.push_back(Event::Request { id, method, params });
                }
            }
            Message::Notification { method, params } => {
                self.events
                    .push_back(Event::Notification { method, params });
            }
            Message::Response { id, result, error } => {
                let Some(n) = id.as_u64() else {
                    // e.g. the reply to our own probe ("echo" id) or foreign ids.
                    return;
                };
                let Some(method) = self.pending.remove(&n) else {
                    return;
                };
                let result = if error.is_null() {
                    Ok(result)
                } else {
                    Err(error)
                };
                self.events.push_back(Event::Response {
                    id: n,
                    method,
                    result,
                });
            }
        }
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let iv = self.probe_interval?;
        Some(match self.probe_sent {
            None => self.last_rx + iv,
            Some(sent) => sent + iv,
        })
    }

    /// Drive the inactivity probe.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        let Some(iv) = self.probe_interval else {
            return Ok(());
        };
        match self.probe_sent {
            None if now >= self.last_rx + iv => {
                self.write(&Message::Request {
                    id: json!("echo"),
                    method: "echo".into(),
                    params: json!([]),
                });
                self.probe_sent = Some(now);
            }
            Some(sent) if now >= sent + iv => return Err(Error::ProbeTimeout),
            _ => {}
        }
        Ok(())
    }
}
