//! A deadline for reading a request's body: a client that trickles its body
//! (one byte every few seconds) would otherwise hold a connection and a
//! handler forever. After [`BODY_DEADLINE`] the body reads as an error, the
//! answer is 408 and the connection is closed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

/// How long a client has to send a request's whole body.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Middleware: the request's body must arrive within [`BODY_DEADLINE`].
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let expired = Arc::new(AtomicBool::new(false));
    let inner = req.take_payload();
    let stream = Deadline {
        inner,
        sleep: Box::pin(tokio::time::sleep(BODY_DEADLINE)),
        expired: expired.clone(),
        done: false,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(stream),
    });
    let result = next.call(req).await;
    if !expired.load(Ordering::Relaxed) {
        return result;
    }
    tracing::warn!("a request body did not arrive within {BODY_DEADLINE:?}: connection closed");
    let mut res = match result {
        Ok(res) => res,
        Err(e) => return Err(e),
    };
    *res.response_mut().status_mut() = StatusCode::REQUEST_TIMEOUT;
    res.response_mut()
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(res)
}

/// The body, cut off at its deadline.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
    done: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.done = true;
            self.expired.store(true, Ordering::Relaxed);
            let late = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the body did not arrive within {} s",
                    BODY_DEADLINE.as_secs()
                ),
            );
            return Poll::Ready(Some(Err(PayloadError::Incomplete(Some(late)))));
        }
        Poll::Pending
    }
}
