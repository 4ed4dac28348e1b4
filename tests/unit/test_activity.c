/* test_activity.c: a worker's request label goes through shared memory whole, and a cut one comes out valid. */
#include <string.h>

#include "activity.h"
#include "status.h"
#include "tap.h"

int main(void)
{
	static struct worker_activity activity;
	char label[ACTIVITY_REQUEST_SIZE];
	char out[STATUS_LABEL_SIZE];

	activity_set_request(&activity, "GET /orders?limit=1");
	activity_get_request(&activity, label);
	IS_STRING(label, "GET /orders?limit=1", "a label comes back as stored");
	activity_set_request(&activity, "GET /");
	activity_get_request(&activity, label);
	IS_STRING(label, "GET /", "a shorter one after it ends at its own NUL");
	memset(label, 'a', sizeof label);
	memcpy(label + sizeof label - 4, "\xc3\xa9\xc3\xa9", 4); /* "éé", the second cut by the field's end */
	activity_set_request(&activity, label);
	status_request_label(&activity, out, sizeof out);
	OK(strlen(out) == ACTIVITY_REQUEST_SIZE - 2 && strcmp(out + strlen(out) - 3, "a\xc3\xa9") == 0,
	   "a label past the field is cut to %d bytes, and a character cut there is left out",
	   ACTIVITY_REQUEST_SIZE - 1);
	activity_set_request(&activity, "GET /\xff");
	status_request_label(&activity, out, sizeof out);
	IS_STRING(out, "GET /\xef\xbf\xbd", "a byte that starts no character becomes U+FFFD");
	DONE_TESTING();
}
