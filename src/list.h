/* list.h: the one intrusive doubly linked list, oldest first, that the loop's and the stores' queues are made of. */
#ifndef WEBAPI_LIST_H
#define WEBAPI_LIST_H

#include <stddef.h>

/* Embedded in whatever is listed, once per list it can be in: linking
 * allocates nothing, and removal from the middle costs O(1), which the
 * loop's idle list (the oldest is evicted, any one can wake) needs. */
struct list_link {
	struct list_link *previous, *next;
};

struct list {
	struct list_link *head, *tail; /* oldest, newest; both NULL when empty */
};

/* The structure member is embedded in, as the kernel's container_of: how
 * one layer's part of a context finds the whole without a cast that
 * relies on member order. */
#define container_of(pointer, type, member) ((type *)(void *)((char *)(pointer)-offsetof(type, member)))

/* The structure a link is embedded in, as nginx's ngx_queue_data: the
 * link's member name says which list it is. */
#define list_entry(link, type, member) container_of(link, type, member)

static inline int list_is_empty(const struct list *list)
{
	return list->head == NULL;
}

/* Whether link is in list, where a link that can be in several lists
 * (the loop's phases) is known to be in this one or in none: a removed or
 * never-linked link (all zero) is in none. */
static inline int list_contains(const struct list *list, const struct list_link *link)
{
	return link->previous != NULL || list->head == link;
}

static inline void list_append(struct list *list, struct list_link *link)
{
	link->previous = list->tail;
	link->next = NULL;
	if (list->tail != NULL)
		list->tail->next = link;
	else
		list->head = link;
	list->tail = link;
}

/* Safe on a link that is not in the list: removing twice is no error. */
static inline void list_remove(struct list *list, struct list_link *link)
{
	if (!list_contains(list, link))
		return;
	if (link->previous != NULL)
		link->previous->next = link->next;
	else
		list->head = link->next;
	if (link->next != NULL)
		link->next->previous = link->previous;
	else
		list->tail = link->previous;
	link->previous = link->next = NULL;
}

/* Removes and returns the oldest link, or NULL. */
static inline struct list_link *list_take_first(struct list *list)
{
	struct list_link *first = list->head;
	if (first != NULL)
		list_remove(list, first);
	return first;
}

#endif
