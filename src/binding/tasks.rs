//! The work a node does on a libuv worker thread, so that the event loop never waits on a disk: opening a node
//! (a durable one replays its write-ahead log and loads its snapshot) and closing its storage (the disk thread
//! finishes the queued writes and releases the data directory). Each resolves a Promise on the JS thread.

use super::error::{self, CodedError};
use super::native_node::NativeNode;
use super::storage_acks::StorageAcks;
use crate::node::{NodeDriver, NodeOptions};
use crate::storage::{Storage, WriterEvent};
use napi::bindgen_prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

type Report = Box<dyn Fn(WriterEvent) + Send + 'static>;

/// Opens a node off the JS thread; resolves to the `NativeNode`, or rejects with what recovery found.
pub struct OpenNode {
    options: Option<NodeOptions>,
    report: Option<Report>,
    acks: Arc<StorageAcks>,
    tick_ms: u32,
    /// Why recovery failed, with its code, for `reject` (a task's `compute` can only fail with a plain status).
    failure: Option<CodedError>,
}

impl OpenNode {
    pub fn new(options: NodeOptions, report: Report, acks: Arc<StorageAcks>) -> OpenNode {
        let tick_ms = options.tick_ms;
        OpenNode { options: Some(options), report: Some(report), acks, tick_ms, failure: None }
    }
}

impl Task for OpenNode {
    type Output = NodeDriver;
    type JsValue = NativeNode;

    fn compute(&mut self) -> Result<NodeDriver> {
        let (Some(options), Some(report)) = (self.options.take(), self.report.take()) else {
            return Err(Error::from_reason("the node was already opened"));
        };
        match catch_unwind(AssertUnwindSafe(move || NodeDriver::open(options, report))) {
            Ok(Ok(driver)) => Ok(driver),
            Ok(Err(error)) => {
                self.failure = Some(error::open_error(&error));
                Err(Error::from_reason(error.to_string()))
            }
            Err(_) => Err(Error::from_reason("opening the node failed: an internal error (a panic) was caught")),
        }
    }

    fn resolve(&mut self, _env: Env, driver: NodeDriver) -> Result<NativeNode> {
        Ok(NativeNode::from_driver(driver, self.tick_ms, Some(self.acks.clone())))
    }

    fn reject(&mut self, env: Env, plain: Error) -> Result<NativeNode> {
        match self.failure.take() {
            Some(failure) => Err(error::task_rejection(&env, failure)),
            None => Err(plain),
        }
    }
}

/// Drops a closed node's storage off the JS thread: the disk thread writes what was queued, then stops.
pub struct CloseStorage {
    storage: Option<Box<dyn Storage>>,
}

impl CloseStorage {
    pub fn new(storage: Box<dyn Storage>) -> CloseStorage {
        CloseStorage { storage: Some(storage) }
    }
}

impl Task for CloseStorage {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        let storage = self.storage.take();
        catch_unwind(AssertUnwindSafe(move || drop(storage)))
            .map_err(|_| Error::from_reason("closing the storage failed: an internal error (a panic) was caught"))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}
