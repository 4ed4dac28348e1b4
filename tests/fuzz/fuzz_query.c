/* fuzz_query.c: libFuzzer target for router_parse_page_query (router.c), which reads /orders?limit=L&offset=O. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

/* An independent reading of what an accepted query may contain:
 * "&"-separated parts, each empty or limit=DIGITS or offset=DIGITS. */
static int looks_acceptable(const char *query)
{
	for (const char *part = query; *part != '\0';) {
		size_t length = strcspn(part, "&");
		size_t name = strncmp(part, "limit=", 6) == 0 ? 6 : strncmp(part, "offset=", 7) == 0 ? 7 : 0;
		if (length > 0 && (name == 0 || length == name || strspn(part + name, "0123456789") != length - name))
			return 0;
		part += length + (part[length] == '&');
	}
	return 1;
}

/* The first byte picks the error buffer's size (allocated exactly, so a
 * write past it is caught); the rest is the query string. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t error_size = 1 + data[0] % 160;
	char *query = malloc(size);
	char *error = malloc(error_size);
	struct order_page page;

	memcpy(query, data + 1, size - 1);
	query[size - 1] = '\0';
	memset(&page, 0xa5, sizeof page);
	memset(error, 0x5a, error_size);
	int result = router_parse_page_query(size == 1 ? NULL : query, &page, error, error_size);
	if (result == 0) {
		if (page.is_default ? page.limit != 100 || page.offset != 1000
				    : page.limit < 1 || page.limit > MAX_PAGE_LIMIT || page.offset < 0 ||
					  page.offset > MAX_PAGE_OFFSET)
			abort();
		if (!looks_acceptable(query))
			abort();
		/* The page read back from its own canonical text is the same page. */
		if (!page.is_default) {
			char canonical[64];
			struct order_page again;
			snprintf(canonical, sizeof canonical, "limit=%lld&offset=%lld", (long long)page.limit,
				 (long long)page.offset);
			if (router_parse_page_query(canonical, &again, error, error_size) != 0 ||
			    again.limit != page.limit || again.offset != page.offset || again.is_default)
				abort();
		}
	} else if (result == -1) {
		/* A message for the client: terminated, printable, never empty. */
		size_t length = strnlen(error, error_size);
		if (length == error_size || (error_size > 1 && length == 0))
			abort();
		for (size_t i = 0; i < length; i++)
			if (error[i] < 0x20 || error[i] > 0x7e)
				abort();
	} else {
		abort();
	}
	free(error);
	free(query);
	return 0;
}
