//! HTTP(S) download of a `.zip` buildpack: streamed to a temp file next to the destination,
//! then unpacked. 10 minute timeout like CF; `-skipCertVerify` turns TLS verification off for
//! these downloads only.

use std::io::{self, Seek, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use url::Url;

use super::{extract_zip, redact, FetchError};

const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub fn download_and_extract(
    url: &Url,
    destination: &Path,
    skip_cert_verify: bool,
) -> Result<(), FetchError> {
    let shown = redact(url.as_str());
    let download_error = |reason: String| FetchError::Download {
        url: shown.clone(),
        reason,
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(download_error(format!(
            "scheme {:?} is not supported for zip buildpacks",
            url.scheme()
        )));
    }
    let parent = destination.parent().unwrap_or(Path::new("/"));
    let mut archive = tempfile::tempfile_in(parent).map_err(|e| download_error(e.to_string()))?;
    let size = fetch_into(url, &mut archive, skip_cert_verify).map_err(download_error)?;
    archive
        .rewind()
        .map_err(|e| download_error(e.to_string()))?;
    extract_zip(archive, destination).map_err(|e| {
        let _ = std::fs::remove_dir_all(destination);
        FetchError::Extract {
            url: shown.clone(),
            reason: e.to_string(),
        }
    })?;
    println!("Downloaded buildpack `{shown}` ({})", human_size(size));
    let _ = io::stdout().flush();
    Ok(())
}

fn fetch_into(url: &Url, sink: &mut impl Write, skip_cert_verify: bool) -> Result<u64, String> {
    let response = agent(skip_cert_verify)
        .request_url("GET", url)
        .call()
        .map_err(|e| match e {
            ureq::Error::Status(code, _) => format!("server answered HTTP {code}"),
            other => other.to_string(),
        })?;
    let mut body = response.into_reader();
    io::copy(&mut body, sink).map_err(|e| e.to_string())
}

fn agent(skip_cert_verify: bool) -> ureq::Agent {
    let builder = ureq::AgentBuilder::new().timeout(DOWNLOAD_TIMEOUT);
    if !skip_cert_verify {
        return builder.build();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    builder.tls_config(Arc::new(tls)).build()
}

/// Accepts any server certificate, but still checks handshake signatures so the connection is
/// at least consistent with the certificate presented.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Sizes the way CF's `bytefmt.ByteSize` prints them: `512B`, `1.5K`, `20M`.
fn human_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (scale, unit) in UNITS {
        if bytes >= scale {
            let value = format!("{:.1}", bytes as f64 / scale as f64);
            return format!("{}{unit}", value.trim_end_matches(".0"));
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_cf() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(1536), "1.5K");
        assert_eq!(human_size(20 << 20), "20M");
    }
}
