/* Transition header: UTF-8 lives in src/core/utf8.h.  Include that one;
 * this file goes once nothing includes it. */
#ifndef CHAT_NET_UTF8_H
#define CHAT_NET_UTF8_H

#include "../core/utf8.h"

#endif
