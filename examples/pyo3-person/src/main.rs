//! vmware-labs' WebAssembly Language Runtimes example, re-done on pylon: a Rust program for
//! wasm32-wasip1 embeds CPython (pylon's libpython bundle) with pyo3, registers a `person`
//! module written in Rust as a built-in module, runs Python that uses it, and calls a Python
//! function with Rust tuples. Each check that fails exits with status 1 and says which;
//! the last line is `pyo3-person: ok` when all hold.

use pyo3::prelude::*;
use pyo3::types::PyList;

/// The `person` built-in module.
#[pymodule]
mod person {
    use pyo3::prelude::*;

    /// A person with a name, an age and tags.
    #[pyclass(get_all)]
    #[derive(Clone)]
    pub struct Person {
        pub name: String,
        pub age: u16,
        pub tags: Vec<String>,
    }

    #[pymethods]
    impl Person {
        #[new]
        fn new(name: String, age: u16) -> Self {
            Person { name, age, tags: Vec::new() }
        }

        fn add_tag(&mut self, tag: String) {
            if !self.tags.contains(&tag) {
                self.tags.push(tag);
            }
        }

        fn __repr__(&self) -> String {
            format!("Person({:?}, {}, tags={:?})", self.name, self.age, self.tags)
        }
    }

    /// The people among `people` tagged `tag`, in order.
    #[pyfunction]
    fn filter_by_tag(people: Vec<PyRef<'_, Person>>, tag: &str) -> Vec<Person> {
        people.iter().filter(|p| p.tags.iter().any(|t| t == tag)).map(|p| (**p).clone()).collect()
    }
}

/// Python that uses the Rust module, and a function Rust calls with tuples.
const SCRIPT: &std::ffi::CStr = cr#"
import sys
import person

people = [person.Person("Ada", 36), person.Person("Grace", 45), person.Person("Linus", 21)]
for p, tags in zip(people, [["math", "engines"], ["navy", "compilers", "math"], ["kernels"]]):
    for t in tags:
        p.add_tag(t)
people[0].add_tag("math")  # no duplicates
mathematicians = person.filter_by_tag(people, "math")
print("people:", people)
print("tagged math:", [p.name for p in mathematicians])
assert [p.name for p in mathematicians] == ["Ada", "Grace"], mathematicians
assert people[0].tags == ["math", "engines"]
try:
    person.Person("Too old", 70000)
except OverflowError as e:
    print("rejected:", e)
else:
    raise AssertionError("an age over u16 was accepted")


def describe(who, scores):
    """Called from Rust with a (name, age) tuple and a tuple of scores."""
    name, age = who
    return f"{name} ({age}): best {max(scores)}, mean {sum(scores) / len(scores):.2f}", len(scores)


import decimal, hashlib, json, xml.etree.ElementTree as ET
print("python", sys.version.split()[0], "on", sys.platform)
print("stdlib:", json.dumps({"d": str(decimal.Decimal(1) / 7)}), hashlib.sha256(b"pylon").hexdigest()[:16],
      ET.fromstring("<a><b>x</b></a>").find("b").text)
"#;

fn main() {
    // No argv0 reaches Python::initialize: say where the stdlib is (the runner mounts it at
    // /usr/local/lib), unless the caller did.
    if std::env::var_os("PYTHONHOME").is_none() {
        // SAFETY: single-threaded, before the interpreter starts.
        unsafe { std::env::set_var("PYTHONHOME", "/usr/local") };
    }
    pyo3::append_to_inittab!(person);
    Python::initialize();
    let result = Python::attach(|py| -> PyResult<()> {
        let module = PyModule::from_code(py, SCRIPT, c"person_demo.py", c"person_demo")?;
        let describe = module.getattr("describe")?;
        let (text, count): (String, usize) = describe.call1((("Ada", 36u16), (9.5f64, 7.0, 8.25)))?.extract()?;
        println!("rust called describe: {text:?}, {count} scores");
        check(text == "Ada (36): best 9.5, mean 8.25" && count == 3, "describe's result")?;
        // Rust reads the Python objects back: the Rust structs, through the module.
        let people = module.getattr("people")?.cast_into::<PyList>()?;
        let ages: Vec<u16> = people.iter().map(|p| p.getattr("age")?.extract()).collect::<PyResult<_>>()?;
        println!("ages seen from rust: {ages:?}");
        check(ages == [36, 45, 21], "the ages")?;
        py.run(c"import sys; sys.stdout.flush()", None, None)
    });
    if let Err(err) = result {
        Python::attach(|py| err.print(py));
        // pyo3 never finalizes: flush what Python buffered before leaving.
        let _ = Python::attach(|py| py.run(c"import sys; sys.stdout.flush(); sys.stderr.flush()", None, None));
        std::process::exit(1);
    }
    println!("pyo3-person: ok");
}

fn check(holds: bool, what: &str) -> PyResult<()> {
    if holds { Ok(()) } else { Err(pyo3::exceptions::PyAssertionError::new_err(format!("wrong: {what}"))) }
}

// Links pylon's libpython bundle (its build script's link lines apply only if it is used).
use pylon_libpy as _;
