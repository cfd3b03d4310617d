/** @file err.h
 * err: the words for every error this library returns. Every error is an
 * errno value (threadleaks.h says where each function puts it); these are
 * the words to print for it, Go's where Go has them. */
#ifndef THREADLEAKS_ERR_H
#define THREADLEAKS_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/** err.Error(): "context canceled" for ECANCELED and "context deadline
 * exceeded" for ETIMEDOUT (a deadline of select's or a wait's too), as Go's
 * context package says; the C library's words (strerror_r) for any other
 * value, such as EAGAIN from tl_go when the system has no thread to give.
 * The text lives until the calling thread's next call; thread-safe. */
const char *tl_err_text(int err);

#ifdef __cplusplus
}
#endif

#endif
