package web

// Pager is the state of a paged list for the "pagination" partial: the
// page shown, of how many, and the URLs of the pages before and after
// ("" when there is none).
type Pager struct {
	Page, Pages int
	Prev, Next  string
}

// NewPager is page of pages (pages at least 1, page within them), with
// url giving the address of a page number.
func NewPager(page, pages int, url func(int) string) Pager {
	pages = max(pages, 1)
	page = min(max(page, 1), pages)
	p := Pager{Page: page, Pages: pages}
	if page > 1 {
		p.Prev = url(page - 1)
	}
	if page < pages {
		p.Next = url(page + 1)
	}
	return p
}
