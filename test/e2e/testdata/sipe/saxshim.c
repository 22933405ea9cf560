/*
 * saxshim: an LD_PRELOAD library that lets Pidgin SIPE read XML on
 * Debian 12's libxml2 (2.9.14+dfsg-1.3~deb12u*).
 *
 * SIPE parses every XML body (provisioning, C3P responses, conference-info)
 * with xmlSAXUserParseMemory and a handler that fills in only the SAX1
 * element callbacks (startElement/endElement) yet marks itself
 * initialized = XML_SAX2_MAGIC. This libxml2 build then calls no element
 * callback at all, so SIPE sees empty documents and silently ignores what
 * the server says (reference/protocols.md §3.5). Handing libxml2 a copy of
 * such a handler marked as a plain SAX1 handler (initialized = 1) makes it
 * call the callbacks SIPE set. Handlers that use SAX2 callbacks, and every
 * other program, are left alone.
 *
 * Build: gcc -shared -fPIC -o libsaxshim.so saxshim.c \
 *            $(pkg-config --cflags libxml-2.0) -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <libxml/parser.h>

typedef int (*parse_fn)(xmlSAXHandlerPtr, void *, const char *, int);

int xmlSAXUserParseMemory(xmlSAXHandlerPtr sax, void *user_data, const char *buffer, int size)
{
	static parse_fn next;
	xmlSAXHandler sax1;

	if (next == NULL)
		next = (parse_fn)dlsym(RTLD_NEXT, "xmlSAXUserParseMemory");
	if (sax == NULL || sax->initialized != XML_SAX2_MAGIC ||
	    sax->startElementNs != NULL || sax->endElementNs != NULL ||
	    sax->startElement == NULL)
		return next(sax, user_data, buffer, size);
	memcpy(&sax1, sax, sizeof sax1);
	sax1.initialized = 1;
	return next(&sax1, user_data, buffer, size);
}
