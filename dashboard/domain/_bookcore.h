/* Layout of dashboard.domain._bookcore.BookCore, shared with dashboard.kucoin.client._l2fast.
 *
 * BookCore is the compiled base class of dashboard.domain.book.OrderBook: it only holds the book's
 * state (the two level maps, the two heaps, the price scale and the sequence) in C struct fields, so
 * that the level-2 fast path can reach them without attribute look-ups. Every method stays in Python.
 */
#ifndef DASHBOARD_BOOKCORE_H
#define DASHBOARD_BOOKCORE_H

#include <Python.h>

typedef struct {
    PyObject_HEAD
    PyObject *bids;      /* dict[int, str]: tick -> size string           (Python: _bids)     */
    PyObject *asks;      /* dict[int, str]                                 (Python: _asks)     */
    PyObject *bid_heap;  /* list[int]: negated bid ticks, lazy deletion    (Python: _bid_heap) */
    PyObject *ask_heap;  /* list[int]: ask ticks, lazy deletion            (Python: _ask_heap) */
    long long sequence;  /*                                                (Python: sequence)  */
    int scale;           /* decimal places of a tick                       (Python: _scale)    */
} BookCoreObject;

#endif
