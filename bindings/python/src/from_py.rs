//! Python objects to the core's [`Value`], in one walk, with the published conversion rules.
//!
//! Rules of drift-core-python 0.1.9: `None`, `bool`, `int` (one beyond i64 becomes a float, one
//! beyond the double range is unsupported), `float` (NaN and infinities become `null`), `str`,
//! `list`/`tuple` (arrays), `dict` (and subclasses) with `str` keys. Any other value type is a
//! `TypeError("unsupported value type for Rust export payload processing")`, any other key type a
//! `TypeError("'T' object cannot be cast as 'str'")`, and a container nested 128 levels deep a
//! `ValueError("serialization error: recursion limit exceeded at line 1 column N")`.
//!
//! Type checks go through the exact types first (the common case) and fall back to subclass
//! checks, like orjson. Strings are borrowed from the Python objects: each borrowed `str` is kept
//! alive by a strong reference held for as long as the [`Value`] lives (see [`with_value`]), so
//! nothing the caller's code does afterwards (a finalizer mutating the input, say) can free the
//! text under us. No Python code runs during the walk itself.

use std::borrow::Cow;

use drift_core_rs::{Member, Object, Value};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyString};

use crate::errors::{MAX_DEPTH, key_type_error, too_deep_error, unsupported_value_error};
use crate::pystr::str_view;

/// Why a walk stopped.
pub(crate) enum WalkError {
    /// A value of a type the published rules do not convert.
    Unsupported,
    /// A dict key that is not a `str`; holds the key's type name.
    KeyType(String),
    /// A Python exception to raise as is (a key with lone surrogates: UnicodeEncodeError).
    Python(PyErr),
}

/// Builds the [`Value`] of `object` and hands it to `f`. The value borrows text from Python
/// strings that this function keeps referenced until `f` returns; the higher-ranked lifetime
/// keeps the value from escaping `f`.
pub(crate) fn with_value<'py, R>(
    object: &Bound<'py, PyAny>,
    f: impl for<'v> FnOnce(Value<'v>) -> PyResult<R>,
) -> PyResult<R> {
    with_value_as(object, true, f)
}

/// [`with_value`] for the span builder's values (`metadata`, `input_value`, `output_value`): the
/// published builder encodes the converted value as it is, without the text round trip, so a
/// float keeps its own bits (`5.394009208741125e-155` stays, where `process_export_payload_pyobject`
/// makes it `5.3940092087411246e-155`).
pub(crate) fn with_span_value<'py, R>(
    object: &Bound<'py, PyAny>,
    f: impl for<'v> FnOnce(Value<'v>) -> PyResult<R>,
) -> PyResult<R> {
    with_value_as(object, false, f)
}

fn with_value_as<'py, R>(
    object: &Bound<'py, PyAny>,
    round_trip: bool,
    f: impl for<'v> FnOnce(Value<'v>) -> PyResult<R>,
) -> PyResult<R> {
    let mut walker = Walker {
        py: object.py(),
        keep: Vec::new(),
        too_deep: false,
        round_trip,
    };
    let value = match walker.walk(object.as_ptr(), 1) {
        Ok(value) => value,
        Err(WalkError::Unsupported) => return Err(unsupported_value_error()),
        Err(WalkError::KeyType(name)) => return Err(key_type_error(&name)),
        Err(WalkError::Python(error)) => return Err(error),
    };
    if walker.too_deep {
        return Err(too_deep_error(&value));
    }
    let result = f(value);
    drop(walker.keep);
    result
}

/// Checks that `object` converts under the published rules, raising exactly what
/// [`with_value`] would raise, without building anything: for arguments whose content is then
/// read selectively (schemas). Same traversal order as the walk, so the first error is the same.
pub(crate) fn check_convertible(object: &Bound<'_, PyAny>) -> PyResult<()> {
    let mut too_deep = false;
    match check(object.py(), object.as_ptr(), 1, &mut too_deep) {
        Ok(()) if too_deep => with_value(object, |_| Ok(())), // computes the published column
        Ok(()) => Ok(()),
        Err(WalkError::Unsupported) => Err(unsupported_value_error()),
        Err(WalkError::KeyType(name)) => Err(key_type_error(&name)),
        Err(WalkError::Python(error)) => Err(error),
    }
}

/// The type errors [`with_value`] would raise for `object`, without its nesting error: the
/// published binding converts every argument before it meets a value nested too deep.
pub(crate) fn check_types(object: &Bound<'_, PyAny>) -> PyResult<()> {
    let mut too_deep = false;
    match check(object.py(), object.as_ptr(), 1, &mut too_deep) {
        Ok(()) => Ok(()),
        Err(WalkError::Unsupported) => Err(unsupported_value_error()),
        Err(WalkError::KeyType(name)) => Err(key_type_error(&name)),
        Err(WalkError::Python(error)) => Err(error),
    }
}

fn check(
    py: Python<'_>,
    ptr: *mut ffi::PyObject,
    depth: usize,
    too_deep: &mut bool,
) -> Result<(), WalkError> {
    match kind_of(ptr) {
        Kind::Str => {
            // SAFETY: `ptr` is a live `str` (checked by `kind_of`) and the GIL is held.
            let object = unsafe { Bound::from_borrowed_ptr(py, ptr) };
            // SAFETY: the type was checked above.
            let string = unsafe { object.cast_unchecked::<PyString>() };
            str_view(string)
                .map(drop)
                .map_err(|_| WalkError::Unsupported)
        }
        Kind::Int => int_value(ptr).map(drop),
        Kind::Float | Kind::None | Kind::Bool(_) => Ok(()),
        Kind::List | Kind::Tuple | Kind::Dict if depth > MAX_DEPTH => {
            *too_deep = true;
            Ok(())
        }
        Kind::List | Kind::Tuple => {
            let is_list = matches!(kind_of(ptr), Kind::List);
            // SAFETY: `ptr` is a live list or tuple (checked by `kind_of`) and the GIL is held;
            // the size and item reads run no Python code (same calls as the walk).
            let len = unsafe {
                if is_list {
                    ffi::PyList_Size(ptr)
                } else {
                    ffi::PyTuple_Size(ptr)
                }
            }
            .max(0);
            for index in 0..len {
                // SAFETY: as above, `index` is within the size, which nothing can change.
                let item = unsafe {
                    if is_list {
                        ffi::PyList_GetItem(ptr, index)
                    } else {
                        ffi::PyTuple_GetItem(ptr, index)
                    }
                };
                if item.is_null() {
                    // SAFETY: GIL held; clears the IndexError of an impossible out-of-range read.
                    unsafe { ffi::PyErr_Clear() };
                    break;
                }
                check(py, item, depth + 1, too_deep)?;
            }
            Ok(())
        }
        Kind::Dict => {
            let mut position: ffi::Py_ssize_t = 0;
            let mut key: *mut ffi::PyObject = std::ptr::null_mut();
            let mut value: *mut ffi::PyObject = std::ptr::null_mut();
            // SAFETY: PyDict_Next with valid out-pointers on a live dict (checked by
            // `kind_of`) that no code mutates during the loop; borrowed references.
            while unsafe { ffi::PyDict_Next(ptr, &mut position, &mut key, &mut value) } != 0 {
                // SAFETY: `key` is a live object owned by the dict.
                if unsafe { ffi::PyUnicode_Check(key) } == 0 {
                    return Err(WalkError::KeyType(type_name(py, key)));
                }
                // SAFETY: as above; the type was just checked.
                let key_object = unsafe { Bound::from_borrowed_ptr(py, key) };
                // SAFETY: `key_object` is a `str`.
                let key_string = unsafe { key_object.cast_unchecked::<PyString>() };
                str_view(key_string).map_err(WalkError::Python)?;
                check(py, value, depth + 1, too_deep)?;
            }
            Ok(())
        }
        Kind::Other => Err(WalkError::Unsupported),
    }
}

struct Walker<'py> {
    py: Python<'py>,
    /// Strong references to every `str` whose text the value borrows.
    keep: Vec<Bound<'py, PyAny>>,
    /// A container sat at depth 128; it was recorded as an empty container of its kind so the
    /// error's position (the first such container in canonical order) can be computed.
    too_deep: bool,
    /// Floats take the published core's text round trip ([`Value::from_host_float`]).
    round_trip: bool,
}

impl<'py> Walker<'py> {
    /// Converts the object at `ptr`, a container at `depth` (the root is depth 1).
    fn walk<'v>(&mut self, ptr: *mut ffi::PyObject, depth: usize) -> Result<Value<'v>, WalkError> {
        match kind_of(ptr) {
            Kind::Str => self.string(ptr),
            Kind::Dict => self.dict(ptr, depth),
            Kind::Int => int_value_as(ptr, self.round_trip),
            Kind::List => self.list(ptr, depth),
            Kind::Float => Ok(float_value_as(ptr, self.round_trip)),
            Kind::None => Ok(Value::Null),
            Kind::Bool(flag) => Ok(Value::Bool(flag)),
            Kind::Tuple => self.tuple(ptr, depth),
            Kind::Other => Err(WalkError::Unsupported),
        }
    }

    fn string<'v>(&mut self, ptr: *mut ffi::PyObject) -> Result<Value<'v>, WalkError> {
        // A value with lone surrogates is "unsupported" in the published binding.
        self.text(ptr)
            .map(Value::String)
            .map_err(|_| WalkError::Unsupported)
    }

    /// The text of the `str` at `ptr`, borrowed for `'v` (the object is kept referenced).
    fn text<'v>(&mut self, ptr: *mut ffi::PyObject) -> PyResult<Cow<'v, str>> {
        // SAFETY: `ptr` is a live `str` (checked by the caller) and the GIL is held; the new
        // strong reference is owned by `keep`.
        let object = unsafe { Bound::from_borrowed_ptr(self.py, ptr) };
        // SAFETY: the caller checked the type is `str` or a subclass.
        let string = unsafe { object.cast_unchecked::<PyString>() };
        let text = match str_view(string)? {
            // SAFETY: the text lives inside the string object, which `keep` references until
            // `with_value` has finished with the value (strings are immutable), so extending
            // the borrow to `'v` (bounded by `with_value`'s closure) is sound.
            Cow::Borrowed(text) => Cow::Borrowed(unsafe { &*(text as *const str) }),
            Cow::Owned(text) => Cow::Owned(text),
        };
        self.keep.push(object);
        Ok(text)
    }

    fn list<'v>(&mut self, ptr: *mut ffi::PyObject, depth: usize) -> Result<Value<'v>, WalkError> {
        if depth > MAX_DEPTH {
            self.too_deep = true;
            return Ok(Value::Array(Vec::new()));
        }
        // SAFETY: `ptr` is a list (checked by the caller); the GIL is held.
        let len = unsafe { ffi::PyList_Size(ptr) }.max(0);
        let mut items = Vec::with_capacity(len as usize);
        for index in 0..len {
            // SAFETY: `index` is within the list's size, which cannot change: no Python code runs.
            let item = unsafe { ffi::PyList_GetItem(ptr, index) };
            if item.is_null() {
                // SAFETY: GIL held; clears the IndexError of an impossible out-of-range read.
                unsafe { ffi::PyErr_Clear() };
                break;
            }
            items.push(self.walk(item, depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn tuple<'v>(&mut self, ptr: *mut ffi::PyObject, depth: usize) -> Result<Value<'v>, WalkError> {
        if depth > MAX_DEPTH {
            self.too_deep = true;
            return Ok(Value::Array(Vec::new()));
        }
        // SAFETY: `ptr` is a tuple (checked by the caller); the GIL is held.
        let len = unsafe { ffi::PyTuple_Size(ptr) }.max(0);
        let mut items = Vec::with_capacity(len as usize);
        for index in 0..len {
            // SAFETY: `index` is within the immutable tuple's size.
            let item = unsafe { ffi::PyTuple_GetItem(ptr, index) };
            if item.is_null() {
                // SAFETY: GIL held; clears the IndexError of an impossible out-of-range read.
                unsafe { ffi::PyErr_Clear() };
                break;
            }
            items.push(self.walk(item, depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn dict<'v>(&mut self, ptr: *mut ffi::PyObject, depth: usize) -> Result<Value<'v>, WalkError> {
        if depth > MAX_DEPTH {
            self.too_deep = true;
            return Ok(Value::Object(Object::new()));
        }
        // SAFETY: `ptr` is a dict (checked by the caller); the GIL is held.
        let len = unsafe { ffi::PyDict_Size(ptr) }.max(0);
        let mut members: Vec<Member<'v>> = Vec::with_capacity(len as usize);
        let mut position: ffi::Py_ssize_t = 0;
        let mut key: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value: *mut ffi::PyObject = std::ptr::null_mut();
        // SAFETY: PyDict_Next with valid out-pointers on a dict that no code mutates during the
        // loop; it hands out borrowed references owned by the dict.
        while unsafe { ffi::PyDict_Next(ptr, &mut position, &mut key, &mut value) } != 0 {
            // SAFETY: `key` is a live object owned by the dict.
            if unsafe { ffi::PyUnicode_Check(key) } == 0 {
                return Err(WalkError::KeyType(type_name(self.py, key)));
            }
            // A key with lone surrogates raises UnicodeEncodeError, as in the published binding.
            let key_text = self.text(key).map_err(WalkError::Python)?;
            let child = self.walk(value, depth + 1)?;
            members.push((key_text, child));
        }
        Ok(Value::Object(Object::from_members(members)))
    }
}

/// What a Python object is, for the conversion rules.
pub(crate) enum Kind {
    Str,
    Dict,
    Int,
    List,
    Float,
    None,
    Bool(bool),
    Tuple,
    Other,
}

/// Exact types first (the common case, one pointer compare each), then subclasses (IntEnum,
/// str enums, OrderedDict, ...) in the published order.
pub(crate) fn kind_of(ptr: *mut ffi::PyObject) -> Kind {
    // SAFETY: `ptr` is a live object kept alive by the root argument (directly or through a
    // container that no code mutates during the walk) and the GIL is held; these calls only
    // read the object's type and the interpreter's singletons.
    unsafe {
        let type_ptr = ffi::Py_TYPE(ptr);
        if type_ptr == &raw mut ffi::PyUnicode_Type {
            Kind::Str
        } else if type_ptr == &raw mut ffi::PyDict_Type {
            Kind::Dict
        } else if type_ptr == &raw mut ffi::PyLong_Type {
            Kind::Int
        } else if type_ptr == &raw mut ffi::PyList_Type {
            Kind::List
        } else if type_ptr == &raw mut ffi::PyFloat_Type {
            Kind::Float
        } else if ptr == ffi::Py_None() {
            Kind::None
        } else if type_ptr == &raw mut ffi::PyBool_Type {
            Kind::Bool(ptr == ffi::Py_True())
        } else if type_ptr == &raw mut ffi::PyTuple_Type {
            Kind::Tuple
        } else if ffi::PyLong_Check(ptr) != 0 {
            Kind::Int
        } else if ffi::PyFloat_Check(ptr) != 0 {
            Kind::Float
        } else if ffi::PyUnicode_Check(ptr) != 0 {
            Kind::Str
        } else if ffi::PyList_Check(ptr) != 0 {
            Kind::List
        } else if ffi::PyTuple_Check(ptr) != 0 {
            Kind::Tuple
        } else if ffi::PyDict_Check(ptr) != 0 {
            Kind::Dict
        } else {
            Kind::Other
        }
    }
}

/// The published rule for `int`: an i64 stays an integer, anything else becomes a double.
pub(crate) fn int_value<'v>(ptr: *mut ffi::PyObject) -> Result<Value<'v>, WalkError> {
    int_value_as(ptr, true)
}

/// [`int_value`]; an int beyond i64 becomes its double as is unless `round_trip`.
fn int_value_as<'v>(ptr: *mut ffi::PyObject, round_trip: bool) -> Result<Value<'v>, WalkError> {
    let mut overflow: std::ffi::c_int = 0;
    // SAFETY: `ptr` is an int (or subclass); the GIL is held; `overflow` is a valid out-pointer.
    let small = unsafe { ffi::PyLong_AsLongLongAndOverflow(ptr, &mut overflow) };
    if overflow == 0 {
        if small == -1 && error_pending() {
            // SAFETY: GIL held; an int that is not convertible is treated as out of range below.
            unsafe { ffi::PyErr_Clear() };
        } else {
            return Ok(Value::Int(small));
        }
    }
    // SAFETY: as above; PyLong_AsDouble raises OverflowError beyond the double range.
    let double = unsafe { ffi::PyLong_AsDouble(ptr) };
    if double == -1.0 && error_pending() {
        // SAFETY: GIL held; the OverflowError becomes the published "unsupported value".
        unsafe { ffi::PyErr_Clear() };
        return Err(WalkError::Unsupported);
    }
    // A finite double (beyond the double range is the error above), read the way the published
    // binding reads it.
    Ok(host_float(double, round_trip))
}

/// Whether the last C-API call left an exception set.
fn error_pending() -> bool {
    // SAFETY: the GIL is held by the walk; PyErr_Occurred only reads the thread state.
    !unsafe { ffi::PyErr_Occurred() }.is_null()
}

/// A Python float as the published conversion makes it: NaN and infinities become null; with
/// `round_trip`, finite doubles take the published core's text round trip.
pub(crate) fn float_value_as<'v>(ptr: *mut ffi::PyObject, round_trip: bool) -> Value<'v> {
    // SAFETY: `ptr` is a float (or subclass); reading its value runs no Python code.
    let double = unsafe { ffi::PyFloat_AsDouble(ptr) };
    host_float(double, round_trip)
}

fn host_float<'v>(double: f64, round_trip: bool) -> Value<'v> {
    if round_trip {
        Value::from_host_float(double)
    } else if double.is_finite() {
        Value::Float(double)
    } else {
        Value::Null
    }
}

fn type_name(py: Python<'_>, ptr: *mut ffi::PyObject) -> String {
    // SAFETY: `ptr` is a live object and the GIL is held (`py`).
    let object = unsafe { Bound::from_borrowed_ptr(py, ptr) };
    object
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}
