// placeholder: implemented by the router work item
