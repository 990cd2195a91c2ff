//! A forwarding proxy to put between a dialer and an acceptor: it records every byte both ways, can slow the
//! bulk lane down, and can rewrite the dialer's frames (alter, replay, reorder, inject) to play an attacker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Rewrites the dialer's frame number `index` (0 is the HELLO, 1 the PROOF, data from 2) on connection number
/// `connection` into the frames forwarded instead.
pub type Tamper = Arc<dyn Fn(usize, usize, Vec<u8>) -> Vec<Vec<u8>> + Send + Sync>;

#[derive(Default, Clone)]
pub struct Config {
    /// Forwards the bulk lane's connections at about 16 MB/s.
    pub throttle_bulk: bool,
    pub tamper: Option<Tamper>,
    /// On the first connection, from the dialer: flips a bit in every TLS application-data record from this one on
    /// (counting from 0), as an attacker altering the encrypted stream would.
    pub corrupt_tls_records_from: Option<usize>,
}

/// What went through one connection.
#[derive(Default, Clone)]
pub struct Captured {
    pub up: Vec<u8>,
    pub down: Vec<u8>,
}

pub struct Proxy {
    pub addr: String,
    pub connections: Arc<Mutex<Vec<Captured>>>,
    /// Bytes forwarded so far on bulk-lane connections.
    pub bulk_bytes: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub async fn start(target: String, config: Config) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let connections: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let bulk_bytes = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let connections = Arc::clone(&connections);
            let bulk_bytes = Arc::clone(&bulk_bytes);
            async move {
                let mut pumps = tokio::task::JoinSet::new();
                while let Ok((client, _)) = listener.accept().await {
                    let index = {
                        let mut connections = connections.lock().unwrap();
                        connections.push(Captured::default());
                        connections.len() - 1
                    };
                    let link = Link {
                        index,
                        connections: Arc::clone(&connections),
                        bulk_bytes: Arc::clone(&bulk_bytes),
                        config: config.clone(),
                    };
                    let target = target.clone();
                    pumps.spawn(async move {
                        if let Ok(server) = TcpStream::connect(&target).await {
                            link.run(client, server).await;
                        }
                    });
                }
            }
        });
        Proxy { addr, connections, bulk_bytes, task }
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.connections.lock().unwrap().clone()
    }
}

struct Link {
    index: usize,
    connections: Arc<Mutex<Vec<Captured>>>,
    bulk_bytes: Arc<AtomicU64>,
    config: Config,
}

impl Link {
    /// Pumps both ways until either side closes, then closes both.
    async fn run(self, client: TcpStream, server: TcpStream) {
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let up = async {
            match (&self.config.tamper, self.config.corrupt_tls_records_from) {
                (Some(tamper), _) => self.frames_up(&mut client_read, &mut server_write, tamper).await,
                (None, Some(from)) if self.index == 0 => {
                    self.records_up(&mut client_read, &mut server_write, from).await
                }
                _ => self.bytes_up(&mut client_read, &mut server_write).await,
            }
        };
        let down = async {
            let mut buffer = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = server_read.read(&mut buffer).await {
                self.connections.lock().unwrap()[self.index].down.extend_from_slice(&buffer[..n]);
                if client_write.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
            }
        };
        tokio::select! {
            () = up => {}
            () = down => {}
        }
    }

    async fn bytes_up(&self, from: &mut (impl AsyncRead + Unpin), to: &mut (impl AsyncWrite + Unpin)) {
        // The HELLO's first 15 bytes end with its lane (length 4, magic 8, version 2, lane 1).
        let mut head = [0u8; 15];
        if from.read_exact(&mut head).await.is_err() {
            return;
        }
        let bulk = head[14] == 1;
        let slow = bulk && self.config.throttle_bulk;
        self.record(&head, bulk);
        if to.write_all(&head).await.is_err() {
            return;
        }
        let mut buffer = vec![0u8; if slow { 16 * 1024 } else { 64 * 1024 }];
        while let Ok(n @ 1..) = from.read(&mut buffer).await {
            self.record(&buffer[..n], bulk);
            if to.write_all(&buffer[..n]).await.is_err() {
                return;
            }
            if slow {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }

    fn record(&self, bytes: &[u8], bulk: bool) {
        self.connections.lock().unwrap()[self.index].up.extend_from_slice(bytes);
        if bulk {
            self.bulk_bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    }

    /// TLS records (type u8, version u16, length u16, then the record), the application-data ones (type 23)
    /// numbered from 0, and those from `from` on altered in their last byte (their AEAD tag's).
    async fn records_up(&self, from: &mut (impl AsyncRead + Unpin), to: &mut (impl AsyncWrite + Unpin), first: usize) {
        let mut application_data = 0;
        loop {
            let mut header = [0u8; 5];
            if from.read_exact(&mut header).await.is_err() {
                return;
            }
            let mut record = vec![0u8; u16::from_be_bytes([header[3], header[4]]) as usize];
            if from.read_exact(&mut record).await.is_err() {
                return;
            }
            if header[0] == 23 {
                if application_data >= first {
                    if let Some(last) = record.last_mut() {
                        *last ^= 1;
                    }
                }
                application_data += 1;
            }
            let bytes = [&header[..], &record].concat();
            self.record(&bytes, false);
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
    }

    async fn frames_up(
        &self,
        from: &mut (impl AsyncRead + Unpin),
        to: &mut (impl AsyncWrite + Unpin),
        tamper: &Tamper,
    ) {
        for index in 0.. {
            let mut prefix = [0u8; 4];
            if from.read_exact(&mut prefix).await.is_err() {
                return;
            }
            let mut payload = vec![0u8; u32::from_be_bytes(prefix) as usize];
            if from.read_exact(&mut payload).await.is_err() {
                return;
            }
            for out in tamper(self.index, index, payload) {
                let bytes = crate::wire::frame(&out);
                self.connections.lock().unwrap()[self.index].up.extend_from_slice(&bytes);
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        }
    }
}
