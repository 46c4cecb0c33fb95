//! A small mock Tusk backend on 127.0.0.1: a real HTTP/1.1 server (std `TcpListener`, one thread
//! per connection, keep-alive) that decodes each `ExportSpansRequest` with the
//! `tusk-drift-schemas` types and can be scripted to fail.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use tusk_drift_schemas::tusk::drift::backend::v1::{ExportSpansRequest, ExportSpansResponse};

/// What the server does with one request.
#[derive(Debug, Clone)]
#[allow(dead_code)] // Each test binary uses a subset.
pub enum Reply {
    /// Decode and accept (200, `success: true`).
    Accept,
    /// Answer with this status without accepting.
    Status(u16),
    /// Sleep, then answer 200 without recording the request as accepted: tests use delays past
    /// the client's timeout, so the client has given up and will retry.
    Delay(Duration),
    /// Answer 200 with `success: false`.
    Unsuccessful,
    /// Close the connection without answering (a reset, for the client).
    Reset,
    /// Answer with this status and a body echoing every request header (`name: value` lines,
    /// the API key included), as some proxies and debug backends do.
    EchoHeaders(u16),
}

/// One request as received.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct Received {
    pub request: ExportSpansRequest,
    pub headers: Vec<(String, String)>,
    pub body_len: usize,
    pub accepted: bool,
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    received: Vec<Received>,
    attempts: usize,
}

pub struct MockBackend {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

#[allow(dead_code)]
impl MockBackend {
    pub fn start() -> MockBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_state, thread_stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = thread_state.clone();
                std::thread::spawn(move || serve_connection(stream, state));
            }
        });
        MockBackend { addr, state, stop }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues replies for the next requests; after the script runs out, requests are accepted.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// Requests that were accepted, in arrival order.
    pub fn accepted(&self) -> Vec<Received> {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|r| r.accepted)
            .cloned()
            .collect()
    }

    /// Spans accepted so far (without cloning the requests).
    pub fn accepted_spans(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|r| r.accepted)
            .map(|r| r.request.spans.len())
            .sum()
    }

    pub fn all_received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Every HTTP request that reached the server, including rejected and timed-out ones.
    pub fn attempts(&self) -> usize {
        self.state.lock().unwrap().attempts
    }
}

impl Drop for MockBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Unblock the accept loop.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let reply = {
            let mut state = state.lock().unwrap();
            state.attempts += 1;
            state.script.pop_front().unwrap_or(Reply::Accept)
        };
        if let Reply::Delay(delay) = &reply {
            std::thread::sleep(*delay);
        }
        if matches!(reply, Reply::Reset) {
            return;
        }
        let decoded_body = if header("content-encoding").as_deref() == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body.as_slice())
                .read_to_end(&mut out)
                .expect("gzip body");
            out
        } else {
            body.clone()
        };
        let (status, response_body) = match &reply {
            Reply::Status(status) => (*status, b"scripted failure".to_vec()),
            Reply::EchoHeaders(status) => (
                *status,
                headers
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}\n"))
                    .collect::<String>()
                    .into_bytes(),
            ),
            Reply::Reset => return,
            Reply::Unsuccessful => (
                200,
                ExportSpansResponse {
                    success: false,
                    message: "scripted".into(),
                }
                .encode_to_vec(),
            ),
            Reply::Delay(_) => (
                200,
                ExportSpansResponse {
                    success: true,
                    message: String::new(),
                }
                .encode_to_vec(),
            ),
            Reply::Accept => {
                let path_ok = request_line.starts_with(
                    "POST /api/drift/tusk.drift.backend.v1.SpanExportService/ExportSpans ",
                );
                match ExportSpansRequest::decode(decoded_body.as_slice()) {
                    Ok(request) if path_ok => {
                        state.lock().unwrap().received.push(Received {
                            request,
                            headers: headers.clone(),
                            body_len: body.len(),
                            accepted: true,
                        });
                        (
                            200,
                            ExportSpansResponse {
                                success: true,
                                message: String::new(),
                            }
                            .encode_to_vec(),
                        )
                    }
                    _ => (400, b"bad request".to_vec()),
                }
            }
        };
        if !matches!(reply, Reply::Accept)
            && let Ok(request) = ExportSpansRequest::decode(decoded_body.as_slice())
        {
            state.lock().unwrap().received.push(Received {
                request,
                headers: headers.clone(),
                body_len: body.len(),
                accepted: false,
            });
        }
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/protobuf\r\nContent-Length: {}\r\n\r\n",
            response_body.len()
        );
        if writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&response_body))
            .is_err()
        {
            return;
        }
    }
}
