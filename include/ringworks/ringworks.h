/* ringworks/ringworks.h: the umbrella header; includes every public header. */
#ifndef RINGWORKS_RINGWORKS_H
#define RINGWORKS_RINGWORKS_H
#include "common.h"
#include "loop.h"
#include "tcpserver.h"
#include "wsserver.h"
#include "dtlsserver.h"
#endif
