/*
 * chainrule_io.h — file formats on top of the core: .npy arrays, safetensors
 * models, IDX and CSV datasets, PNG pictures, and atomic writes.
 *
 * Depends on the core (chainrule.h), zlib, cJSON and libpng. The core never
 * includes this header.
 *
 * Error convention (chainrule.h, cr_last_error): every fallible function returns
 * cr_status (CR_ERR_IO: a file cannot be opened, read or written; CR_ERR_FORMAT:
 * malformed or unsupported content; CR_ERR_NOMEM; CR_ERR_ARG) and leaves ONE line
 * (no trailing newline) naming the file and the problem in cr_last_error(), e.g.
 * "model.safetensors: header length 9999999 exceeds file size 120".
 * On failure no output object is left allocated and no output file is left
 * (writes go to a temporary file in the same folder, fsync, rename).
 * Readers never allocate what a header claims before checking it against the
 * file's actual size and against overflow.
 */
#ifndef CHAINRULE_IO_H
#define CHAINRULE_IO_H

#include <stdio.h>

#include "chainrule.h"
#include "chainrule_certify.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exported by the shared library, like everything chainrule.h declares. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* For the layers above the core (io, the CLI, programs with their own checks):
   cr_fail sets the calling thread's detail line (cr_last_error; printf-style, made
   one printable line; its arguments may include cr_last_error() itself) and returns
   status. cr_last_status: the status of the thread's last cr_fail (CR_OK if none),
   to pass a callee's failure on. Both live in libchainrule. */
cr_status cr_fail(cr_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
cr_status cr_last_status(void);

/* ---------------------------------------------------------------- arrays */

typedef enum {
    CR_ARRAY_F32 = 0,
    CR_ARRAY_F64 = 1,
    CR_ARRAY_U8 = 2,
    CR_ARRAY_I32 = 3,
    CR_ARRAY_I64 = 4
} cr_array_dtype;

#define CR_ARRAY_MAX_DIMS 8

/* An n-dimensional C-order array that owns its data (free with cr_array_free). */
typedef struct {
    cr_array_dtype dtype;
    int ndim;
    size_t shape[CR_ARRAY_MAX_DIMS];
    size_t count; /* product of shape (1 for ndim == 0) */
    void *data;   /* owned; count * element size bytes */
} cr_array;

size_t cr_array_dtype_size(cr_array_dtype dtype);
const char *cr_array_dtype_name(cr_array_dtype dtype); /* "float32", "uint8", ... */
/* Allocates a zeroed array; 0 on success. Checks the size for overflow. */
cr_status cr_array_alloc(cr_array *a, cr_array_dtype dtype, int ndim, const size_t *shape);
void cr_array_free(cr_array *a); /* frees data, leaves *a zeroed; NULL-safe */

/* .npy version 1.0/2.0/3.0, little-endian <f4 <f8 |u1 <i4 <i8, C order only. */
cr_status cr_npy_read(const char *path, cr_array *out);
/* Parses an in-memory .npy image (used by cr_npy_read and the fuzzer). `name`
   is used in error messages. */
cr_status cr_npy_parse(const char *name, const unsigned char *buf, size_t len, cr_array *out);
/* Writes version 1.0 (2.0 if the header needs it); atomic. */
cr_status cr_npy_write(const char *path, const cr_array *a);

/* ---------------------------------------------------------------- safetensors */

typedef struct {
    char *name; /* owned */
    cr_array array;
} cr_tensor;

typedef struct {
    char *key;   /* owned */
    char *value; /* owned */
} cr_meta_entry;

/* A safetensors file in memory. Tensors in file order. Free with cr_safetensors_free. */
typedef struct {
    size_t n_tensors;
    cr_tensor *tensors;
    size_t n_meta;
    cr_meta_entry *meta; /* the "__metadata__" string map */
} cr_safetensors;

/* Strict: header length vs file size, JSON well-formed, dtypes F32/F64/U8/I32/I64,
   offsets in range, contiguous, non-overlapping, sizes = shape * dtype size. */
cr_status cr_safetensors_read(const char *path, cr_safetensors *out);
cr_status cr_safetensors_parse(const char *name, const unsigned char *buf, size_t len,
                         cr_safetensors *out);
cr_status cr_safetensors_write(const char *path, const cr_safetensors *st);
void cr_safetensors_free(cr_safetensors *st);
const cr_tensor *cr_safetensors_find(const cr_safetensors *st, const char *name);
const char *cr_safetensors_meta(const cr_safetensors *st, const char *key);
/* Adds a copy of name/array (array data copied) or of key/value; 0 on success. */
cr_status cr_safetensors_add(cr_safetensors *st, const char *name, const cr_array *array);
cr_status cr_safetensors_set_meta(cr_safetensors *st, const char *key, const char *value);

/* ---------------------------------------------------------------- models */

/*
 * A model file is safetensors with fc{i}.weight [out, in] and fc{i}.bias [out]
 * (PyTorch nn.Linear layout; i is 1-based), all F32 or all F64, and
 * __metadata__ {"format": "chainrule/1", "activations": "sigmoid,softmax", ...}.
 * Optional input standardisation: tensors "input.mean" and "input.std" [D].
 * Any other tensors/metadata (optimiser state in checkpoints) are kept in
 * `extra` by cr_model_load_full and written back by cr_model_save_full.
 */
typedef struct {
    cr_net *net;          /* owned */
    cr_array input_mean;  /* F32/F64 [D] or empty (data == NULL) */
    cr_array input_std;   /* idem */
    cr_safetensors extra; /* other tensors and metadata, owned */
    /* What an imported ONNX graph outputs when it is not o: 1 Softmax(o), 2 LogSoftmax(o), 0 o itself (every
       other source). Not saved: certify reads a VNN-LIB spec's Y on the graph's output (outputs_are_probs). */
    int graph_output;
} cr_model;

/* A network of the raw input: a file's input.mean/input.std become the net's
   link 0, z = (x − mean) ⊘ std with the stored values (cr_net_set_input_affine),
   so the net evaluates exactly what the file states and every derivative is with
   respect to the input the user has. cr_model_load_full also keeps them as the
   model's input_mean/input_std arrays. Saving writes a net's link 0 as
   input.mean/input.std (a net without one: the model's arrays, if any). */
cr_status cr_model_load(const char *path, cr_net **out);
cr_status cr_model_save(const char *path, const cr_net *net);
cr_status cr_model_load_full(const char *path, cr_model *out);
cr_status cr_model_save_full(const char *path, const cr_model *model);
/* A utility, not on any load path: folds model's input.mean/input.std (if it has
   them) into the first layer of net, W1 <- diag(1/std) W1, b1 <- b1 − (mean/std) W1,
   computing in double and storing in net's dtype (rounding: the folded net is the
   same function only up to that rounding), and clears net's link 0. net is
   model->net or a network of the same input width, e.g. a copy of it in another
   dtype (cr_net_convert). Without a standardisation net is unchanged.
   CR_ERR_FORMAT (the line names both widths) when the widths differ. */
cr_status cr_model_fold_standardization(const cr_model *model, cr_net *net);
/* Builds a model from an already-parsed safetensors (used by the fuzzer). */
cr_status cr_model_from_safetensors(const char *name, const cr_safetensors *st, cr_model *out);
void cr_model_free(cr_model *model);

/* ---------------------------------------------------------------- training checkpoints */

/*
 * A training checkpoint is a model file (safetensors) that also carries the
 * state of the run in the model's `extra` part, so that training can resume
 * where it stopped and end with the same model, bit for bit, as a run that was
 * never interrupted (same build, same number of training workers):
 *   tensors   optim.m, optim.v     the optimiser's state [n_params] (F32; absent
 *                                  for plain SGD, which has none)
 *   metadata  train.epoch          epochs completed; train.step: optimiser steps
 *             train.rng            the shuffle RNG, 4 x 64-bit hex
 *             train.*              the hyperparameters (cr_optim_config), the seed,
 *                                  batch size, total epochs and the data options
 * Every other reader sees an ordinary model (cr_model_load_full keeps the rest
 * in `extra`). `chainrule train` writes one after every epoch and --resume reads
 * it; a program resumes a run the same way:
 *
 *     cr_model m; cr_checkpoint ck; cr_optim *opt;   // each call: check != CR_OK
 *     cr_model_load_full(path, &m);
 *     cr_checkpoint_read(&m, path, &ck);       // ck.cfg, ck.rng, ck.epoch, ...
 *     cr_optim_create(m.net, &ck.cfg, &opt);
 *     cr_checkpoint_restore_optim(&m, path, opt);
 *     while (ck.epoch < ck.epochs) {                 // the same data, ck.batch, &ck.rng
 *         cr_train_epoch_f32(m.net, opt, ws, n, x, y, ck.batch, &ck.rng, ...);
 *         ck.epoch++;
 *         cr_checkpoint_save(path, &m, opt, &ck);
 *     }
 *
 * The strings are the options the run's data were loaded with ("" when not
 * given), stored for the resuming program to load the same data again.
 */
typedef struct {
    cr_optim_config cfg; /* the hyperparameters and schedule */
    uint64_t seed;       /* of the initialisation, shuffle and split */
    long epochs;         /* the total the run trains for */
    long epoch;          /* epochs completed */
    long batch;          /* minibatch size (> 0) */
    double val;          /* the fraction of the data held out for validation */
    int standardize;     /* the inputs are standardised with the training data's statistics */
    char data[600], test[600], init[16], label_column[32], header[8], limit[32], classes[32];
    cr_rng rng;          /* the shuffle RNG after `epoch` epochs */
} cr_checkpoint;

/* Writes model's net and standardisation (model->extra is not written), opt's
   state and step, and ck to path as safetensors, atomically (a reader sees the
   old file or the new one). 0, or -1 with *err set. */
cr_status cr_checkpoint_save(const char *path, const cr_model *model, const cr_optim *opt,
                       const cr_checkpoint *ck);
/* Reads ck from the metadata of a model loaded from path (cr_model_load_full);
   path only names the file in messages. The hyperparameters are checked
   (cr_optim_config_check). 0, or -1 with *err set ("PATH: not a training
   checkpoint (no metadata train.epoch)", ...). */
cr_status cr_checkpoint_read(const cr_model *model, const char *path, cr_checkpoint *ck);
/* Copies the stored optimiser state (optim.m, optim.v) into opt, created for
   model->net with the checkpoint's cfg, and sets its step (train.step). 0, or -1
   with *err set when a tensor is missing or of the wrong size. */
cr_status cr_checkpoint_restore_optim(const cr_model *model, const char *path, cr_optim *opt);

/*
 * Model files are recognised by their content, not their name:
 *   safetensors  8-byte little-endian header length, then '{'
 *   ONNX         a protobuf ModelProto (first byte one of its field tags)
 *   PyTorch      torch.save's zip archive ("PK\3\4") or a pickle (0x80, protocol 2-5):
 *                refused with a message saying how to export instead
 *   JSON         a text starting with '{' (after spaces): a model typed by hand
 * cr_model_load/cr_model_load_full and cr_model_parse dispatch on it.
 */
typedef enum {
    CR_MODEL_FILE_UNKNOWN = 0,
    CR_MODEL_FILE_SAFETENSORS,
    CR_MODEL_FILE_ONNX,
    CR_MODEL_FILE_TORCH_ZIP,
    CR_MODEL_FILE_PICKLE,
    CR_MODEL_FILE_JSON
} cr_model_file_kind;

cr_model_file_kind cr_model_file_detect(const unsigned char *buf, size_t len);
/* A model from an in-memory file of any kind above (used by the loaders and the fuzzer). */
cr_status cr_model_parse(const char *name, const unsigned char *buf, size_t len, cr_model *out);
/* The same for buf, the bytes of the file at path: an ONNX model's external data
   is read from path's folder (cr_onnx_parse_file). cr_model_load* use it. */
cr_status cr_model_parse_file(const char *path, const unsigned char *buf, size_t len, cr_model *out);

/*
 * JSON models (src/io/model_json.c), a small network typed by hand:
 *   {"layers": [{"W": [[...], ...], "b": [...], "activation": "sigmoid"}, ...],
 *    "head": "squared-error", "dtype": "float64", "input": {"mean": [...], "std": [...]}}
 * W is [in][out] (r = x W + b; W[i][j] joins input i to unit j), or "weight" in
 * PyTorch's [out][in]; "b" optional (zeros); the last layer's "activation" is
 * "softmax" (a classifier: softmax + cross-entropy) or the output activation
 * ("sigmoid", ..., "none") with "head" (or "loss") "squared-error" (the default)
 * or "softmax-cross-entropy"; "dtype" float64 (default) or float32; "input" the
 * standardisation (x − mean) ⊘ std. Unknown keys are refused; every number must be
 * finite (and a float32 if dtype is float32); at most CR_MODEL_JSON_MAX_BYTES bytes,
 * nesting 8 and 1,000,000 values, checked before the JSON tree is built.
 * cr_model_json_encode/_write write the same form (W [in][out], numbers that read
 * back bit for bit); a BatchNorm link or an input link other than (x − mean) ⊘ std
 * has no JSON form and is refused.
 */
#define CR_MODEL_JSON_MAX_BYTES (16u << 20)
int cr_model_json_looks_like(const unsigned char *buf, size_t len);
cr_status cr_model_json_parse(const char *name, const unsigned char *buf, size_t len, cr_model *out);
cr_status cr_model_json_encode(const char *name, const cr_model *model, char **buf, size_t *len);
cr_status cr_model_json_write(const char *path, const cr_model *model);

/*
 * ONNX (src/io/onnx_*.c, protobuf decoding in src/io/protobuf.c). Reads the MLP
 * graphs exporters write: Gemm (alpha, beta, transB; transA = 0) or MatMul
 * (+ Add as its bias) per layer, Relu/Sigmoid/Tanh between layers, optionally
 * Softmax or LogSoftmax at the end; Flatten (axis 1) or Reshape to [N, D];
 * Identity, Dropout (inference) and Constant anywhere; Sub/Add/Mul/Div by
 * constants before the first layer, folded into input.mean/std. Opsets 7-22,
 * initializers also listed as graph inputs, weights in raw_data or
 * float_data/double_data, inputs [N, D] or [N, C, H, W], a fixed or symbolic
 * batch; float16/bfloat16 weights become float32 exactly. Anything else is
 * refused with one line naming the op and the node. The protobuf reader
 * checks every length against the bytes left, limits nesting (16) and
 * counts; allocations are bounded by the file's size. A tensor whose data is
 * external (data_location EXTERNAL) is refused here: there is no folder.
 */
cr_status cr_onnx_parse(const char *name, const unsigned char *buf, size_t len, cr_model *out);
/* cr_onnx_parse for buf, the bytes of the file at path; external tensor data
   is read from path's folder: its location must be a plain file name there (no
   '/', no ".."), a regular file and not a symbolic link, and [offset, offset +
   length) must lie inside it (checked against its size before allocating). */
cr_status cr_onnx_parse_file(const char *path, const unsigned char *buf, size_t len, cr_model *out);
/* 1 when buf starts like a protobuf ModelProto (a cheap test, not a parse). */
int cr_onnx_looks_like(const unsigned char *buf, size_t len);
/* The opset cr_onnx_write writes. */
#define CR_ONNX_OPSET 13
/* 1 when cr_onnx_write writes act (its row's ONNX op exists in CR_ONNX_OPSET, or its
   row has a pattern the writer writes, as Sigmoid + Mul for silu); 0 otherwise. */
int cr_onnx_supported(cr_activation act);
/* Writes model as ONNX (opset 13, IR 7): [Sub, Div for input.mean/std,] Gemm with
   transB = 1 per layer (weights [out, in] as in safetensors, raw_data, bit for bit),
   each activation as its row's ONNX form between; input "input" [N, D], output
   "logits" [N, K]. Atomic. */
cr_status cr_onnx_write(const char *path, const cr_model *model);
/* The same file in memory: *buf (malloc'd, caller frees) of *len bytes; `name` for messages. */
cr_status cr_onnx_encode(const char *name, const cr_model *model, unsigned char **buf, size_t *len);

/*
 * A PyTorch state dict saved as safetensors (safetensors.torch.save_file(
 * model.state_dict(), path)) as a model: the nn.Linear layers "<p>.weight"
 * [out, in] and "<p>.bias" [out] (zeros when missing: bias=False) in the
 * natural order of their prefixes p ("0", "2", ... of nn.Sequential, also
 * shifted by a leading Flatten; "fc1", "fc2", ...; digit runs compare as
 * numbers), their shapes chained; optional "input.mean"/"input.std". act: the
 * hidden activations, n_act = 1 (all hidden layers) or L - 1 (one each); 0 is
 * allowed for one layer. Errors name the tensors expected and found.
 */
cr_status cr_model_from_state_dict(const char *name, const cr_safetensors *st, int n_act,
                             const cr_activation *act, cr_model *out);

/* ---------------------------------------------------------------- conversions */

/* Copies a float array (F32/F64/U8/I32/I64) to a newly malloc'd buffer of
   dtype (caller frees); fails on NaN/Inf with a message naming `name`. */
cr_status cr_array_to_real(const char *name, const cr_array *a, cr_dtype dtype, void **out);
/*
 * Labels from an array: an integer vector [N] of class indices, or a float
 * one-hot/probability matrix [N, K]. Writes N x K targets of dtype into a newly
 * malloc'd buffer (caller frees). Checks N, K and range.
 */
cr_status cr_labels_to_targets(const char *name, const cr_array *labels, size_t n, size_t k,
                         cr_dtype dtype, void **out);

/* ---------------------------------------------------------------- handles for bindings
 * Plain pointers instead of caller-allocated structs (src/io/handle.c), so that a
 * binding (python/chainrule) mirrors no struct: cr_model_open loads a model file into
 * *out, a new cr_model, with the head named (NULL: the file's); cr_model_close frees it;
 * cr_model_net its network; cr_model_standardization, a predicate (it cannot fail and
 * writes no cr_last_error line), copies the file's input.mean and input.std (D values
 * each, as double; either may be NULL) and returns 1, or returns 0 with nothing copied
 * when the model has none or is NULL; cr_labels_to_targets_buffer is cr_labels_to_targets on a borrowed
 * buffer of ndim dimensions. The message of an error: cr_last_error().
 */
cr_status cr_model_open(const char *path, const char *head, cr_model **out);
void cr_model_close(cr_model *model);
cr_net *cr_model_net(const cr_model *model);
int cr_model_standardization(const cr_model *model, double *mean, double *std);
cr_status cr_labels_to_targets_buffer(const char *name, cr_array_dtype dtype, int ndim, const size_t *shape,
                                const void *data, size_t n, size_t k, cr_dtype out_dtype, void **out);

/* ---------------------------------------------------------------- VNN-LIB */

/*
 * VNN-LIB specifications (src/io/vnnlib.c): the subset of VNN-COMP's files that alpha-beta-CROWN's read_vnnlib.py
 * reads. `;` comments; (declare-const X_i Real) for exactly the model's d inputs and (declare-const Y_j Real) for its
 * k outputs, each once and before use; (assert CMP), (assert (and CMP+)) and (assert (or CL+)) with CL = (and CMP+)
 * or CMP; CMP = (<= A B) or (>= A B) with A, B each X_i, Y_j or a decimal number, an X only against a number. Strict
 * < and > read as <= and >= (the unsafe region read is a superset: sound for unsat). Top-level asserts are a
 * conjunction; each (or ...) multiplies the disjuncts; disjuncts with the same box become one part's clauses. Every
 * input must be bounded below and above in every disjunct. Decimals are rounded outward into lo/hi/rhs and inward
 * into lo_in/hi_in/rhs_in (chainrule_certify.h). Limits: tokens of 256 characters, nesting 8, 4096 disjuncts, 2^20
 * rows. Errors: one line "NAME:LINE: problem" (or "NAME: problem"), *out zeroed. Free *out with cr_spec_free.
 */
cr_status cr_vnnlib_parse(const char *name, const char *text, size_t len, size_t d, size_t k, cr_spec *out);
cr_status cr_vnnlib_load(const char *path, size_t d, size_t k, cr_spec *out);

/*
 * A VNN-COMP result: one line "unsat", "unknown", "timeout", or "sat" followed by the witness, one assignment a line,
 *   ((X_0 v)
 *   (X_1 v)
 *   ...
 *   (Y_{k-1} v))
 * with %.17g (what alpha-beta-CROWN's default_adv_saver writes, single-spaced). For sat, x (d values) and y (k
 * values, the network's outputs at x) are required and finite; otherwise ignored. print writes to f (name for
 * messages); write_result writes path atomically.
 */
cr_status cr_vnnlib_print_result(FILE *f, const char *name, cr_verdict verdict, size_t d, const double *x, size_t k,
                           const double *y);
cr_status cr_vnnlib_write_result(const char *path, cr_verdict verdict, size_t d, const double *x, size_t k,
                           const double *y);

/* ---------------------------------------------------------------- atomic writes */

/*
 * Atomic file writing: cr_atomic_open creates "<path>.tmp.XXXXXX" in the same
 * folder; cr_atomic_commit flushes, fsyncs, renames over path and fsyncs the
 * folder; cr_atomic_abort closes and removes the temporary file.
 */
typedef struct {
    void *fp; /* FILE* */
    char *tmp_path;
    char *path;
} cr_atomic_file;

cr_status cr_atomic_open(cr_atomic_file *af, const char *path);
cr_status cr_atomic_commit(cr_atomic_file *af);
void cr_atomic_abort(cr_atomic_file *af);
/* Reads a whole regular file (rejects directories), at most max_bytes. */
cr_status cr_read_file(const char *path, size_t max_bytes, unsigned char **buf, size_t *len);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* CHAINRULE_IO_H */
