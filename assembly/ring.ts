// placeholder: implemented by the ring work item
