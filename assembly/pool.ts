// placeholder: implemented by the pool work item
