//! A push stream's `authorization_header` is the receiver's credential for its own endpoint:
//! stored sealed under `secrets.keys` (as the signing keys are), opened only to push
//! (`delivery::dispatcher`; sealed by `routes::ssf` as a stream is written), sealed anew under the first secret by `api secrets reencrypt`.

use domain::ports::{SsfStore, StoreError};
use domain::ssf::{
    Delivery, PushAuthorization, Resealed, StreamConfig, PUSH_AUTHORIZATION_PURPOSE,
};
use jwks::{KeyError, KeyManager};

/// Why the headers could not be sealed anew.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sealing a push authorization header")]
    Seal(#[source] KeyError),
    /// Nothing was rewritten.
    #[error(
        "cannot re-seal the push authorization header of SSF streams {0:?}: no secret in \
         secrets.keys opens it; nothing was changed"
    )]
    Unreadable(Vec<uuid::Uuid>),
}

/// The configuration as it is stored: a header given in plain is sealed (no I/O).
pub fn seal(keys: &KeyManager, mut config: StreamConfig) -> Result<StreamConfig, KeyError> {
    if let Delivery::Push {
        authorization_header: Some(header),
        ..
    } = &mut config.delivery
    {
        if let PushAuthorization::Plain(plain) = header {
            *header =
                PushAuthorization::Sealed(keys.seal_secret(PUSH_AUTHORIZATION_PURPOSE, plain)?);
        }
    }
    Ok(config)
}

/// The header to send: a sealed one opened with any configured secret. Cheap: no I/O.
pub fn open(keys: &KeyManager, header: &PushAuthorization) -> Result<String, KeyError> {
    match header {
        PushAuthorization::Plain(plain) => Ok(plain.clone()),
        PushAuthorization::Sealed(sealed) => keys
            .open_secret(PUSH_AUTHORIZATION_PURPOSE, sealed)
            .map(|(plain, _)| plain),
    }
}

/// Every stored header sealed anew under the first secret (the plain ones of earlier versions
/// too), to hand to `SsfStore::replace_push_authorizations`; refused, naming the streams, if
/// any header opens with no configured secret. Blocking.
pub fn resealed(keys: &KeyManager, store: &dyn SsfStore) -> Result<Vec<Resealed>, ResealError> {
    let mut resealed = Vec::new();
    let mut unreadable = Vec::new();
    for (stream, header) in store.push_authorizations()? {
        let Ok(plain) = open(keys, &header) else {
            unreadable.push(stream);
            continue;
        };
        resealed.push(Resealed {
            stream,
            was: header,
            sealed: keys
                .seal_secret(PUSH_AUTHORIZATION_PURPOSE, &plain)
                .map_err(ResealError::Seal)?,
        });
    }
    if unreadable.is_empty() {
        Ok(resealed)
    } else {
        Err(ResealError::Unreadable(unreadable))
    }
}
