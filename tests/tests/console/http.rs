//! A minimal HTTP/1.0 client for the console's endpoints (JSON, metrics text, SSE): HTTP/1.0
//! makes the server close the connection after the body instead of chunking it, so the body
//! is simply everything after the headers. The AWS services are driven with the SDKs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub struct Reply {
    pub status: u16,
    pub body: String,
}

fn connect(url: &str) -> TcpStream {
    let addr = url.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).expect("connect to the emulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

fn request(stream: &mut TcpStream, path: &str, headers: &[(&str, &str)]) {
    let mut text = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes()).unwrap();
}

/// GET `path`; the whole reply.
pub fn get(url: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut stream = connect(url);
    request(&mut stream, path, headers);
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        body: body.to_owned(),
    }
}

pub fn get_json(url: &str, path: &str) -> serde_json::Value {
    let reply = get(url, path, &[]);
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("GET {path}: {e}: {}", reply.body))
}

/// One server-sent event as read off the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub id: u64,
    pub event: String,
    pub data: serde_json::Value,
}

/// An open SSE connection.
pub struct SseStream {
    pub status: u16,
    reader: BufReader<TcpStream>,
    pub comments: usize,
}

pub fn open_sse(url: &str, headers: &[(&str, &str)]) -> SseStream {
    let mut stream = connect(url);
    request(&mut stream, "/_emulator/events", headers);
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    SseStream {
        status,
        reader,
        comments: 0,
    }
}

impl SseStream {
    /// The next event, or `None` when none arrives within `wait`.
    pub fn next(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = Instant::now() + wait;
        let (mut id, mut event, mut data) = (None, String::new(), String::new());
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.reader
                .get_ref()
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok()?;
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(_) => return None,
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if let Some(id) = id.take() {
                    let data = serde_json::from_str(&data).expect("event data is JSON");
                    return Some(Sse { id, event, data });
                }
                continue;
            }
            if line.starts_with(':') {
                self.comments += 1;
            } else if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
    }
}
