package main

import (
	"errors"

	"github.com/trailsift/trailsift/query"
)

func asSQLError(err error, target **query.SQLError) bool { return errors.As(err, target) }
