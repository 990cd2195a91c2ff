//! The checks napi-rs does not make when it reads a `#[napi(object)]`: it ignores keys the struct lacks (a
//! misspelt option would silently take its default), and it reserves room for an array's whole length before
//! reading it (`new Array(2 ** 32 - 1)` would abort the process). Both are refused here, before it reads.

use super::options::{MAX_CLUSTER_SIZE, OPTION_KEYS, SAVED_ENTRY_KEYS, SAVED_STATE_KEYS};
use super::options_error::OptionsError;
use crate::node::MAX_SAVED_ENTRIES;
use napi::bindgen_prelude::{Array, FromNapiValue, JsObjectValue, JsValue, Object, Unknown, ValueType};

fn unreadable(error: napi::Error) -> OptionsError {
    OptionsError::Unreadable(error.reason)
}

/// The value as an object, or `None` for another type (napi-rs then refuses it, naming the option).
fn as_object<'env>(value: &Unknown<'env>) -> Result<Option<Object<'env>>, OptionsError> {
    if value.get_type().map_err(unreadable)? != ValueType::Object {
        return Ok(None);
    }
    // SAFETY: an object value of a live environment.
    Ok(Some(unsafe { Object::from_napi_value(value.value().env, value.raw()) }.map_err(unreadable)?))
}

/// `object[key]`, when it is an array, with its length.
fn array_at<'env>(object: &Object<'env>, key: &str) -> Result<Option<Array<'env>>, OptionsError> {
    let value = object.get_named_property::<Unknown>(key).map_err(unreadable)?;
    if !value.is_array().map_err(unreadable)? {
        return Ok(None);
    }
    // SAFETY: an array value of a live environment.
    Ok(Some(unsafe { Array::from_napi_value(value.value().env, value.raw()) }.map_err(unreadable)?))
}

fn refuse_unknown_keys(object: &Object, known: &[&str], within: &'static str) -> Result<(), OptionsError> {
    let keys = Object::keys(object).map_err(unreadable)?;
    match keys.into_iter().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(OptionsError::UnknownKey { key, within }),
        None => Ok(()),
    }
}

fn refuse_long_array(array: &Array, option: &'static str, limit: usize) -> Result<(), OptionsError> {
    if array.len() as usize > limit {
        return Err(OptionsError::TooLong { option, length: array.len(), limit });
    }
    Ok(())
}

/// Checks the keys of the options and of their parts, and the lengths of their arrays.
pub fn check_shape(options: &Unknown) -> Result<(), OptionsError> {
    let Some(object) = as_object(options)? else {
        return Err(OptionsError::Unreadable("the options must be an object".into()));
    };
    refuse_unknown_keys(&object, OPTION_KEYS, "the native options")?;
    if let Some(members) = array_at(&object, "members")? {
        refuse_long_array(&members, "members", MAX_CLUSTER_SIZE as usize)?;
    }
    let saved_state = object.get_named_property::<Unknown>("savedState").map_err(unreadable)?;
    let Some(saved_state) = as_object(&saved_state)? else { return Ok(()) };
    refuse_unknown_keys(&saved_state, SAVED_STATE_KEYS, "\"savedState\"")?;
    let Some(entries) = array_at(&saved_state, "entries")? else { return Ok(()) };
    refuse_long_array(&entries, "savedState.entries", MAX_SAVED_ENTRIES)?;
    for position in 0..entries.len() {
        let entry = entries.get::<Unknown>(position).map_err(unreadable)?;
        if let Some(entry) = entry.as_ref().map(as_object).transpose()?.flatten() {
            refuse_unknown_keys(&entry, SAVED_ENTRY_KEYS, "a saved entry")?;
        }
    }
    Ok(())
}
