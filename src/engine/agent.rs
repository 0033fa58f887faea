//! Signing through a running `ssh-agent` (`SSH_AUTH_SOCK`), so an approver whose key lives in
//! the agent (or on a token behind it) never hands stepgate the private key or its passphrase.
//!
//! The agent protocol (draft-miller-ssh-agent) is small and stable, so it is spoken here
//! directly rather than through a dependency: each message is uint32 length || byte type ||
//! payload; we send REQUEST_IDENTITIES (11) and SIGN_REQUEST (13) and read
//! IDENTITIES_ANSWER (12), SIGN_RESPONSE (14) or FAILURE (5).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
/// Flag asking for an rsa-sha2-512 signature from an RSA key (the server refuses SHA-1).
const RSA_SHA2_512: u32 = 4;
/// An agent reply larger than this is not an agent (OpenSSH's own limit is 256 KiB).
const MAX_MESSAGE: usize = 256 * 1024;

/// An open connection to an agent.
pub struct Agent {
    stream: UnixStream,
}

impl Agent {
    /// Connects to the agent at `socket` (the value of `SSH_AUTH_SOCK`).
    pub fn connect(socket: &Path) -> std::io::Result<Agent> {
        let stream = UnixStream::connect(socket)?;
        // An agent that asks for confirmation (ssh-add -c) may take a while; not forever.
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(Agent { stream })
    }

    /// The public key blobs the agent holds.
    pub fn identities(&mut self) -> std::io::Result<Vec<Vec<u8>>> {
        let reply = self.call(&[REQUEST_IDENTITIES])?;
        let mut r = Reader(&reply);
        if r.byte()? != IDENTITIES_ANSWER {
            return Err(bad("the agent refused to list its keys"));
        }
        let n = r.u32()?;
        let mut keys = Vec::new();
        for _ in 0..n {
            keys.push(r.string()?.to_vec());
            r.string()?; // comment
        }
        Ok(keys)
    }

    /// Asks the agent to sign `data` with the key whose public blob is `key_blob`; returns the
    /// signature blob (string(algorithm) || string(signature)).
    pub fn sign(&mut self, key_blob: &[u8], data: &[u8]) -> std::io::Result<Vec<u8>> {
        let is_rsa = key_blob.get(4..11) == Some(b"ssh-rsa".as_slice());
        let mut msg = vec![SIGN_REQUEST];
        put_string(&mut msg, key_blob)?;
        put_string(&mut msg, data)?;
        msg.extend_from_slice(&(if is_rsa { RSA_SHA2_512 } else { 0 }).to_be_bytes());
        let reply = self.call(&msg)?;
        let mut r = Reader(&reply);
        if r.byte()? != SIGN_RESPONSE {
            return Err(bad(
                "the agent refused to sign (a confirmation declined, or a locked agent?)",
            ));
        }
        Ok(r.string()?.to_vec())
    }

    fn call(&mut self, msg: &[u8]) -> std::io::Result<Vec<u8>> {
        let len = u32::try_from(msg.len()).map_err(|_| bad("request too large"))?;
        self.stream.write_all(&len.to_be_bytes())?;
        self.stream.write_all(msg)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_MESSAGE {
            return Err(bad("the agent sent a malformed reply"));
        }
        let mut reply = vec![0u8; len];
        self.stream.read_exact(&mut reply)?;
        Ok(reply)
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(s.len()).map_err(|_| bad("field too large"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s);
    Ok(())
}

/// A bounds-checked cursor over an agent reply.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad("the agent's reply is truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn byte(&mut self) -> std::io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> std::io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> std::io::Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_truncation() {
        let mut r = Reader(&[0, 0, 0, 9, 1, 2]);
        assert!(r.string().is_err());
        let mut r = Reader(&[0, 0, 0, 2, 1, 2]);
        assert_eq!(r.string().ok(), Some(&[1u8, 2][..]));
        assert!(r.byte().is_err());
    }
}
