/* The pre-initialized snapshot's two entry points, and the `_pylon_snapshot` module.
 *
 * `cargo xtask build` runs `wizer-initialize` once, at build time, under a sealed WASI
 * (xtask/src/stages/snapshot.rs): it initializes CPython as a plain `python` would start, imports
 * the prewarm list, and leaves. Wizer then saves the module's memory and globals, and makes
 * `pylon_resume_start` the module's `_start`, so every run of the snapshot begins there,
 * with CPython already initialized.
 *
 * The resume entry makes that interpreter this run's own: it reads this run's environment,
 * mounts, working directory and argv from WASI, parses the command line with CPython's own
 * `PyConfig_Read`, refuses what it cannot apply exactly (options that change how CPython
 * initializes: the runner sends those to the cold, un-snapshotted core), hands the rest to
 * `_pylon_resume.resume` (environment, sys.path, randomness, stdio buffering) and runs the
 * command with CPython's own `Py_RunMain`. On the way out it runs `atexit` and flushes, but
 * does not tear the interpreter down (`_Py_pylon_fast_exit`, a patch in deps/patches.toml):
 * tearing down would touch, and so copy, most of the snapshot's pages. */

#include "Python.h"
#include "pycore_interp.h"        // _PyInterpreterState_GetConfig()

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>
#include <wasi/libc-environ.h>

/* zig's wasm-ld emits no wrappers for command exports: the init export runs the C
 * constructors itself, once. */
extern void __wasm_call_ctors(void);
/* wasi-libc: forget the preopens seen at build time; the next lookup reads this run's. */
extern void __wasilibc_reset_preopens(void);
extern void __wasilibc_populate_preopens(void);
/* The process-clock baseline (a patch to wasi-libc's clock.c in deps/patches.toml). */
extern void __pylon_restart_process_clock(void);
/* Python/pylifecycle.c (patched): after atexit and the stdio flush, finalization stops. */
extern int _Py_pylon_fast_exit;

/* The environment the build passes to the init, and nothing else. */
#define SEED_VAR "PYLON_SNAPSHOT_HASH_SEED"
#define PREWARM_VAR "PYLON_SNAPSHOT_PREWARM"
#define ARGV0_VAR "PYLON_SNAPSHOT_ARGV0"

static int resumed = 0;


/* Read by wasi-libc's stat and readdir (a patch in deps/patches.toml): while set, they
 * answer inode 0, device 0, one link and time 0 for every file. Set during the init only:
 * what they would say of the build machine's files (inode numbers, times) lands in
 * CPython's heap, live or freed, and two builds would differ by it. The stdlib's bytecode
 * is unchecked-hash, so no import depends on a time. */
int __pylon_sealed_files = 0;

static void die(const char *what) {
    fprintf(stderr, "pylon snapshot: %s\n", what);
    if (PyErr_Occurred()) {
        PyErr_Print();
    }
    fflush(stderr);
    _Exit(70);
}

static void fail_status(PyStatus status) {
    if (PyStatus_IsExit(status)) {
        _Exit(status.exitcode);
    }
    Py_ExitStatusException(status);
}

/* Imports each module of a comma-separated list. */
static void prewarm(const char *list) {
    char *copy = strdup(list);
    if (copy == NULL) {
        die("out of memory");
    }
    for (char *name = strtok(copy, ","); name != NULL; name = strtok(NULL, ",")) {
        PyObject *module = PyImport_ImportModule(name);
        if (module == NULL) {
            fprintf(stderr, "pylon snapshot: cannot prewarm `%s`:\n", name);
            die("import failed");
        }
        Py_DECREF(module);
    }
    free(copy);
}

/* Calls `_pylon_resume.<function>(*args)`. */
static PyObject *call_resume_module(const char *function, PyObject *args) {
    PyObject *module = PyImport_ImportModule("_pylon_resume");
    if (module == NULL) {
        return NULL;
    }
    PyObject *callable = PyObject_GetAttrString(module, function);
    Py_DECREF(module);
    if (callable == NULL) {
        return NULL;
    }
    PyObject *result = PyObject_Call(callable, args, NULL);
    Py_DECREF(callable);
    return result;
}

/* Clears the C stack below the caller's frame. The init's calls are over, but the snapshot
 * keeps all of memory, their dead frames too, and those hold raw host answers (a file's
 * stat: times, wasmtime's per-process inode hashes) that differ between two builds.
 * zig's linker puts the stack first, below all data, from address 0 up; the check keeps
 * this from ever clearing data if that changes. Inlined, and a plain loop, so that no frame
 * of its own lies in what it clears; from 16, as C must not write through a null pointer. */
static inline __attribute__((always_inline)) void clear_dead_stack(void) {
    volatile unsigned char *frame = __builtin_frame_address(0);
    if ((uintptr_t)&resumed < (uintptr_t)frame) {
        die("the C stack does not lie below the data (zig's stack-first layout changed)");
    }
    for (volatile unsigned char *p = (volatile unsigned char *)16; p < frame; p++) {
        *p = 0;
    }
}

__attribute__((export_name("wizer-initialize")))
void pylon_snapshot_initialize(void) {
    __wasm_call_ctors();
    __pylon_sealed_files = 1;

    const char *seed = getenv(SEED_VAR);
    const char *list = getenv(PREWARM_VAR);
    const char *argv0 = getenv(ARGV0_VAR);
    if (seed == NULL || list == NULL || argv0 == NULL) {
        die("the build must set " SEED_VAR ", " PREWARM_VAR " and " ARGV0_VAR);
    }
    char *end = NULL;
    errno = 0;
    unsigned long hash_seed = strtoul(seed, &end, 10);
    if (errno != 0 || *end != '\0' || hash_seed == 0 || hash_seed > 4294967295UL) {
        die(SEED_VAR " must be an integer in 1..4294967295");
    }

    /* As `python` with no arguments starts, but with a recorded hash seed: the secret
     * cannot change once strings are hashed, so every run of the snapshot shares it. */
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.use_hash_seed = 1;
    config.hash_seed = hash_seed;
    char *argv[] = {(char *)argv0, NULL};
    PyStatus status = PyConfig_SetBytesArgv(&config, 1, argv);
    if (PyStatus_Exception(status)) {
        fail_status(status);
    }
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        fail_status(status);
    }

    prewarm(list);
    /* Forget build-time directory listings, freeze what init made (so that collections
     * do not dirty the snapshot's pages), flush. */
    PyObject *none = PyTuple_New(0);
    PyObject *done = none == NULL ? NULL : call_resume_module("seal", none);
    Py_XDECREF(none);
    if (done == NULL) {
        die("_pylon_resume.seal() failed");
    }
    Py_DECREF(done);

    /* The environment and mounts were the build's: every run reads its own. */
    __wasilibc_deinitialize_environ();
    __wasilibc_reset_preopens();
    __pylon_sealed_files = 0;
    clear_dead_stack();
}

static PyObject *wide_list(const PyWideStringList *list) {
    PyObject *items = PyList_New(list->length);
    for (Py_ssize_t i = 0; items != NULL && i < list->length; i++) {
        PyObject *item = PyUnicode_FromWideChar(list->items[i], -1);
        if (item == NULL) {
            Py_CLEAR(items);
            break;
        }
        PyList_SET_ITEM(items, i, item);
    }
    return items;
}

/* sys.argv and sys.orig_argv as CPython sets them from a config. */
static int set_sys_list(const char *name, const PyWideStringList *list) {
    PyObject *items = wide_list(list);
    if (items == NULL) {
        return -1;
    }
    int rc = PySys_SetObject(name, items);
    Py_DECREF(items);
    return rc;
}

static int same_strings(const PyWideStringList *a, const PyWideStringList *b) {
    if (a->length != b->length) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < a->length; i++) {
        if (wcscmp(a->items[i], b->items[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static int same_string(const wchar_t *a, const wchar_t *b) {
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return wcscmp(a, b) == 0;
}

/* The first setting of `run` that initialization depends on and the snapshot's
 * interpreter does not have, or NULL. */
static const char *differs(const PyConfig *run, const PyConfig *live) {
#define SAME_INT(field) if (run->field != live->field) return #field;
    SAME_INT(isolated)
    SAME_INT(use_environment)
    SAME_INT(dev_mode)
    SAME_INT(install_signal_handlers)
    SAME_INT(faulthandler)
    SAME_INT(tracemalloc)
    SAME_INT(perf_profiling)
    SAME_INT(import_time)
    SAME_INT(code_debug_ranges)
    SAME_INT(show_ref_count)
    SAME_INT(dump_refs)
    SAME_INT(malloc_stats)
    SAME_INT(site_import)
    SAME_INT(bytes_warning)
    SAME_INT(warn_default_encoding)
    SAME_INT(inspect)
    SAME_INT(interactive)
    SAME_INT(optimization_level)
    SAME_INT(parser_debug)
    SAME_INT(write_bytecode)
    SAME_INT(verbose)
    SAME_INT(quiet)
    SAME_INT(user_site_directory)
    SAME_INT(buffered_stdio)
    SAME_INT(safe_path)
    SAME_INT(int_max_str_digits)
    SAME_INT(cpu_count)
#undef SAME_INT
    /* No PYTHONHASHSEED means "any seed": the snapshot's recorded one stands in. */
    if (run->use_hash_seed && (!live->use_hash_seed || run->hash_seed != live->hash_seed)) {
        return "hash_seed (PYTHONHASHSEED)";
    }
    if (!same_strings(&run->warnoptions, &live->warnoptions)) return "warnoptions (-W, PYTHONWARNINGS)";
    if (!same_strings(&run->xoptions, &live->xoptions)) return "xoptions (-X)";
    if (!same_string(run->pycache_prefix, live->pycache_prefix)) return "pycache_prefix";
    if (!same_string(run->check_hash_pycs_mode, live->check_hash_pycs_mode)) return "check_hash_pycs_mode";
    if (!same_string(run->home, live->home)) return "home (PYTHONHOME)";
    /* The stdio encoding is computed from the locale as init left it; only the variable
     * can ask for another. */
    if (run->use_environment && getenv("PYTHONIOENCODING") != NULL) return "stdio_encoding (PYTHONIOENCODING)";
    return NULL;
}

/* This run's environment as posix.environ holds it: bytes to bytes, first one wins. */
static PyObject *environ_dict(void) {
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL) {
            continue;
        }
        PyObject *k = PyBytes_FromStringAndSize(*e, eq - *e);
        PyObject *v = PyBytes_FromString(eq + 1);
        if (k == NULL || v == NULL || PyDict_SetDefault(d, k, v) == NULL) {
            Py_XDECREF(k);
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(k);
        Py_DECREF(v);
    }
    return d;
}

static PyObject *wide_or_none(const wchar_t *text) {
    return text == NULL ? Py_NewRef(Py_None) : PyUnicode_FromWideChar(text, -1);
}

static int copy_string(PyConfig *to, wchar_t **field, const wchar_t *value) {
    PyStatus status = PyConfig_SetString(to, field, value);
    return PyStatus_Exception(status) ? -1 : 0;
}

/* Parses this run's command line, applies it to the live interpreter and runs it. */
static int resume(int argc, char **argv) {
    PyConfig run;
    PyConfig_InitPythonConfig(&run);
    PyStatus status = PyConfig_SetBytesArgv(&run, argc, argv);
    if (!PyStatus_Exception(status)) {
        status = PyConfig_Read(&run);
    }
    if (PyStatus_Exception(status)) {
        PyConfig_Clear(&run);
        fail_status(status);
    }
    PyInterpreterState *interp = PyInterpreterState_Get();
    PyConfig *live = (PyConfig *)_PyInterpreterState_GetConfig(interp);
    const char *field = differs(&run, live);
    if (field != NULL) {
        fprintf(stderr,
                "pylon: the pre-initialized snapshot cannot apply %s (it changes how CPython "
                "starts); run with --no-snapshot\n", field);
        PyConfig_Clear(&run);
        return 2;
    }
    if (copy_string(live, &live->run_command, run.run_command) < 0
        || copy_string(live, &live->run_module, run.run_module) < 0
        || copy_string(live, &live->run_filename, run.run_filename) < 0
        || PyStatus_Exception(PyConfig_SetWideStringList(live, &live->argv, run.argv.length, run.argv.items))
        || PyStatus_Exception(PyConfig_SetWideStringList(live, &live->orig_argv, run.orig_argv.length, run.orig_argv.items))) {
        PyConfig_Clear(&run);
        die("out of memory");
    }
    live->skip_source_first_line = run.skip_source_first_line;
    if (set_sys_list("argv", &live->argv) < 0 || set_sys_list("orig_argv", &live->orig_argv) < 0) {
        PyConfig_Clear(&run);
        die("cannot set sys.argv");
    }

    PyObject *env = environ_dict();
    PyObject *pythonpath = wide_or_none(run.pythonpath_env);
    PyObject *base = wide_list(&live->module_search_paths);
    PyConfig_Clear(&run);
    if (env == NULL || pythonpath == NULL || base == NULL) {
        die("cannot read this run's environment");
    }
    PyObject *args = PyTuple_Pack(3, env, pythonpath, base);
    Py_DECREF(env);
    Py_DECREF(pythonpath);
    Py_DECREF(base);
    if (args == NULL) {
        die("out of memory");
    }
    PyObject *done = call_resume_module("resume", args);
    Py_DECREF(args);
    if (done == NULL) {
        die("_pylon_resume.resume() failed");
    }
    Py_DECREF(done);

    resumed = 1;
    _Py_pylon_fast_exit = 1;
    return Py_RunMain();
}

__attribute__((export_name("pylon_resume_start")))
void pylon_resume_start(void) {
    int saved_errno = errno;
    __pylon_restart_process_clock();
    __wasilibc_deinitialize_environ();
    __wasilibc_initialize_environ();
    __wasilibc_populate_preopens();
    /* The runner's --cwd, as wasi-libc's own constructor reads it on a cold start. */
    const char *pwd = getenv("PWD");
    if (pwd != NULL && pwd[0] == '/') {
        (void)chdir(pwd);
    }
    errno = saved_errno;

    size_t argc = 0, size = 0;
    if (__wasi_args_sizes_get(&argc, &size) != 0) {
        die("cannot read argv");
    }
    char **argv = calloc(argc + 1, sizeof(char *));
    char *buf = malloc(size ? size : 1);
    if (argv == NULL || buf == NULL || __wasi_args_get((uint8_t **)argv, (uint8_t *)buf) != 0) {
        die("cannot read argv");
    }
    exit(resume((int)argc, argv));
}

PyDoc_STRVAR(resumed_doc,
"resumed() -> bool\n\n"
"True when this interpreter was resumed from pylon's pre-initialized snapshot,\n"
"False on a cold start.");

static PyObject *snapshot_resumed(PyObject *module, PyObject *unused) {
    return PyBool_FromLong(resumed);
}

static PyMethodDef snapshot_methods[] = {
    {"resumed", snapshot_resumed, METH_NOARGS, resumed_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot snapshot_slots[] = {
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {0, NULL},
};

static struct PyModuleDef snapshot_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pylon_snapshot",
    .m_doc = "How this interpreter started: resumed from pylon's snapshot, or cold.",
    .m_size = 0,
    .m_methods = snapshot_methods,
    .m_slots = snapshot_slots,
};

PyMODINIT_FUNC PyInit__pylon_snapshot(void) {
    return PyModuleDef_Init(&snapshot_module);
}
